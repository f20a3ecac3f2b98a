package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/server"
	"github.com/aloft-dev/aloft/internal/template"
)

type upFlags struct {
	data       string
	endpoint   string
	http       string
	nats       string
	tls        bool
	stackName  string
	parameters []string
	sync       string
}

func newUpCommand() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up [TEMPLATE]",
		Short: "Build and run a SAM template's application in the foreground",
		Long: `Build and run a SAM template's application in the foreground.

TEMPLATE defaults to template.yaml in the current directory. The AWS endpoint
(Lambda Invoke API, S3 API) listens on --endpoint, over HTTPS with --tls; data
(JetStream, objects, build cache) lives in --data, by default .aloft/ beside the
template. Credentials are generated on
first start and printed; ALOFT_ACCESS_KEY and ALOFT_SECRET_KEY replace them.
"aloft: ready" is printed once everything serves; SIGINT or SIGTERM shuts down.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, extra, err := splitTemplateArg(args)
			if err != nil {
				return err
			}
			f.parameters = append(f.parameters, extra...)
			return runUp(cmd.Context(), cmd.OutOrStdout(), path, f)
		},
	}
	cmd.Flags().StringVar(&f.data, "data", "", "data directory (default .aloft/ beside the template)")
	cmd.Flags().StringVar(&f.endpoint, "endpoint", "127.0.0.1:4566", "AWS endpoint listen address (host:port; port 0 picks a free port)")
	cmd.Flags().StringVar(&f.http, "http", "127.0.0.1:3000", "HTTP APIs and function URLs listen address (host:port; port 0 picks a free port)")
	cmd.Flags().BoolVar(&f.tls, "tls", false, "serve the AWS endpoint over HTTPS, with a certificate from a CA kept in the data directory (its path is printed)")
	cmd.Flags().StringVar(&f.nats, "nats", "", "use this NATS JetStream server or cluster instead of the embedded one")
	cmd.Flags().StringVar(&f.sync, "sync", "default", `JetStream durability: "default" (accepted data survives a crash of aloft) or "always" (fsync every write: it also survives an OS crash, at a cost)`)
	cmd.Flags().StringVar(&f.stackName, "stack-name", "", "stack name (AWS::StackName; default: the template directory's name)")
	cmd.Flags().StringArrayVar(&f.parameters, "parameter-overrides", nil, "template parameters: Key=Value or ParameterKey=Key,ParameterValue=Value (repeatable, space-separated)")
	return cmd
}

func runUp(ctx context.Context, out io.Writer, path string, f upFlags) error {
	params, err := parseParameterOverrides(f.parameters)
	if err != nil {
		return err
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	stackName := f.stackName
	if stackName == "" {
		stackName = filepath.Base(filepath.Dir(absPath))
	}
	stack, err := template.Load(path, template.Options{StackName: stackName, Parameters: params})
	if err != nil {
		return err
	}
	dataDir := f.data
	if dataDir == "" {
		dataDir = filepath.Join(filepath.Dir(absPath), ".aloft")
	}
	cfg := server.DefaultConfig(dataDir)
	cfg.Endpoint = f.endpoint
	cfg.HTTP = f.http
	cfg.NATSURL = f.nats
	switch f.sync {
	case "default":
	case "always":
		cfg.SyncAlways = true
	default:
		return fmt.Errorf("--sync must be default or always, not %q", f.sync)
	}
	cfg.TLS = f.tls
	cfg.Region, cfg.AccountID = stack.Region, stack.AccountID
	cfg.Logs = out
	cfg.Toolchains = toolchainConfig(dataDir)
	if creds, err := credentialsFromEnv(); err != nil {
		return err
	} else if creds != nil {
		cfg.Credentials = creds
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		return errors.Join(err, shutdown())
	}
	creds := srv.Credentials()
	if err := saveEndpoint(srv.EndpointURL(), creds, srv.Region(), srv.CAPath()); err != nil {
		fmt.Fprintf(out, "aloft: warning: could not record the endpoint for `aloft invoke`: %v\n", err)
	}
	printSummary(out, srv, stack, dep)
	printRoutes(out, srv)
	fmt.Fprintln(out, "aloft: ready")
	<-ctx.Done()
	fmt.Fprintln(out, "aloft: shutting down")
	return shutdown()
}

func printSummary(out io.Writer, srv *server.Server, stack *template.Stack, dep *server.Deployment) {
	creds := srv.Credentials()
	fmt.Fprintf(out, "aloft: stack %s, AWS endpoint %s (region %s), JetStream durability: %s\n", stack.Name, srv.EndpointURL(), srv.Region(), srv.Durability())
	fmt.Fprintf(out, "aloft: credentials: export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n",
		creds.AccessKeyID, creds.SecretAccessKey, srv.Region())
	if ca := srv.CAPath(); ca != "" {
		fmt.Fprintf(out, "aloft: TLS CA certificate: %s (export AWS_CA_BUNDLE=%s)\n", ca, ca)
	}
	for _, fn := range dep.Functions {
		state := "ready"
		if fn.Err != nil {
			state = "cannot run: " + fn.Err.Error()
		} else if fn.Interpreter != "" {
			state = "ready on " + fn.Interpreter
		}
		fmt.Fprintf(out, "aloft: function %s (%s): %s\n", fn.Name, fn.Runtime, state)
	}
	for _, e := range dep.Events {
		fmt.Fprintf(out, "aloft: %s\n", e)
	}
	for _, o := range stack.Outputs {
		fmt.Fprintf(out, "aloft: output %s = %s\n", o.Name, o.Value)
	}
	warnings := append(append([]string{}, stack.Warnings...), dep.Warnings...)
	if len(warnings) > 0 {
		fmt.Fprintln(out, "aloft: warning: parts of the template that aloft does not run:")
		for _, w := range warnings {
			fmt.Fprintf(out, "  - %s\n", w)
		}
	}
}

// splitTemplateArg separates the template path from Key=Value arguments, so that
// `--parameter-overrides A=1 B=2` works unquoted as the SAM CLI's does (the flag
// takes A=1; B=2 arrives as an argument).
func splitTemplateArg(args []string) (path string, params []string, err error) {
	for _, a := range args {
		if strings.Contains(a, "=") {
			params = append(params, a)
			continue
		}
		if path != "" {
			return "", nil, fmt.Errorf("one template at a time: got %q and %q", path, a)
		}
		path = a
	}
	if path == "" {
		path = "template.yaml"
	}
	return path, params, nil
}

// parseParameterOverrides accepts both forms the SAM CLI accepts:
// "Key=Value" and "ParameterKey=Key,ParameterValue=Value", several per argument
// separated by spaces.
func parseParameterOverrides(args []string) (map[string]string, error) {
	params := map[string]string{}
	for _, arg := range args {
		for _, item := range strings.Fields(arg) {
			if rest, ok := strings.CutPrefix(item, "ParameterKey="); ok {
				key, value, ok := strings.Cut(rest, ",ParameterValue=")
				if !ok {
					return nil, fmt.Errorf("--parameter-overrides: %q: want ParameterKey=K,ParameterValue=V", item)
				}
				params[key] = value
				continue
			}
			key, value, ok := strings.Cut(item, "=")
			if !ok || key == "" {
				return nil, fmt.Errorf("--parameter-overrides: %q: want Key=Value", item)
			}
			params[key] = value
		}
	}
	return params, nil
}

// credentialsFromEnv reads ALOFT_ACCESS_KEY and ALOFT_SECRET_KEY; both or
// neither must be set.
func credentialsFromEnv() (*awsapi.Credentials, error) {
	id, secret := os.Getenv("ALOFT_ACCESS_KEY"), os.Getenv("ALOFT_SECRET_KEY")
	if id == "" && secret == "" {
		return nil, nil
	}
	if id == "" || secret == "" {
		return nil, fmt.Errorf("set both ALOFT_ACCESS_KEY and ALOFT_SECRET_KEY, or neither")
	}
	return &awsapi.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
}
