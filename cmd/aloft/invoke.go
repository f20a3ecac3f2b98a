package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

func newInvokeCommand() *cobra.Command {
	var endpoint, payload string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION",
		Short: "Invoke a function of a running aloft and print its response",
		Long: `Invoke a function of a running aloft (started with aloft up) through the Lambda
Invoke API and print its response on stdout and its log on stderr. --payload is
JSON, or @FILE to read it from a file ("-" reads stdin). Exits 1 when the function
returns an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readPayload(payload, cmd.InOrStdin())
			if err != nil {
				return err
			}
			return runInvoke(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), endpoint, args[0], body, !quiet)
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "127.0.0.1:4566", "the aloft AWS endpoint (host:port or URL)")
	cmd.Flags().StringVar(&payload, "payload", "{}", "event JSON, or @FILE")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print the invocation's log")
	return cmd
}

func readPayload(p string, stdin io.Reader) ([]byte, error) {
	switch {
	case p == "-" || p == "@-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(p, "@"):
		return os.ReadFile(p[1:])
	}
	return []byte(p), nil
}

func runInvoke(ctx context.Context, stdout, stderr io.Writer, endpoint, name string, payload []byte, showLog bool) error {
	rec, err := loadEndpoint(endpoint)
	if err != nil {
		return err
	}
	hc, err := rec.httpClient()
	if err != nil {
		return err
	}
	client := lambda.New(lambda.Options{
		HTTPClient:   hc,
		Region:       rec.Region,
		BaseEndpoint: aws.String(rec.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(rec.Credentials.AccessKeyID, rec.Credentials.SecretAccessKey, ""),
	})
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload}
	if showLog {
		in.LogType = types.LogTypeTail
	}
	out, err := client.Invoke(ctx, in)
	if err != nil {
		return err
	}
	if showLog && out.LogResult != nil {
		if logs, err := base64.StdEncoding.DecodeString(*out.LogResult); err == nil {
			stderr.Write(logs)
		}
	}
	fmt.Fprintf(stdout, "%s\n", out.Payload)
	if out.FunctionError != nil {
		return fmt.Errorf("%s returned a function error (%s)", name, *out.FunctionError)
	}
	return nil
}
