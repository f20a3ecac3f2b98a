package runtime

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Paths Lambda sets for every runtime. They name Lambda's sandbox layout; on
// a local machine most of them do not exist, which is harmless, and /var/task
// is replaced by the function's real TaskRoot.
const (
	lambdaPath          = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	lambdaRuntimeDir    = "/var/runtime"
	lambdaLDLibraryPath = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)

// isReserved reports whether Lambda itself owns the variable, so that a
// function's Env cannot override it. AWS_REGION, AWS_DEFAULT_REGION and the
// credential variables are reserved in AWS too, but here the caller supplies
// them through Env, so they are not on this list.
func isReserved(key string) bool {
	switch key {
	case "_HANDLER", "_X_AMZN_TRACE_ID",
		"AWS_EXECUTION_ENV",
		"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_LAMBDA_INITIALIZATION_TYPE",
		"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_LAMBDA_RUNTIME_API",
		"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR":
		return true
	}
	return false
}

// functionEnv returns the environment shared by all instances of spec, as a
// map. Per-instance variables (AWS_LAMBDA_RUNTIME_API,
// AWS_LAMBDA_LOG_STREAM_NAME) are added by instanceEnv.
//
// The host's environment is deliberately NOT inherited: not PATH, HOME,
// AWS_PROFILE, AWS_CA_BUNDLE, proxies or anything else. A function sees what
// it would see on Lambda plus spec.Env, so code that works here does not
// depend on the developer's shell, and host secrets do not leak into
// functions.
func functionEnv(spec *FunctionSpec) map[string]string {
	ldPath := lambdaLDLibraryPath
	if spec.TaskRoot != "" {
		ldPath = strings.ReplaceAll(ldPath, "/var/task", spec.TaskRoot)
	}
	env := map[string]string{
		"PATH":            lambdaPath,
		"LD_LIBRARY_PATH": ldPath,
		"LANG":            "en_US.UTF-8",
		"TZ":              ":UTC",
	}
	for k, v := range spec.Env {
		if !isReserved(k) {
			env[k] = v
		}
	}
	region := firstNonEmpty(spec.Env["AWS_REGION"], spec.Env["AWS_DEFAULT_REGION"], DefaultRegion)
	env["AWS_REGION"] = region
	env["AWS_DEFAULT_REGION"] = firstNonEmpty(spec.Env["AWS_DEFAULT_REGION"], region)

	env["_HANDLER"] = spec.Handler
	env["LAMBDA_TASK_ROOT"] = spec.TaskRoot
	env["LAMBDA_RUNTIME_DIR"] = lambdaRuntimeDir
	env["AWS_LAMBDA_FUNCTION_NAME"] = spec.Name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = spec.Version
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(spec.MemoryMB)
	env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + spec.Name
	env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
	if rt := spec.Runtime; rt != "" && !strings.HasPrefix(rt, "provided") {
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + rt
	}
	return env
}

// instanceEnv renders the environment of one instance as KEY=VALUE pairs,
// sorted so that two instances differ only in their own variables.
func instanceEnv(shared map[string]string, runtimeAPI, logStream string) []string {
	out := make([]string, 0, len(shared)+2)
	for k, v := range shared {
		out = append(out, k+"="+v)
	}
	out = append(out,
		"AWS_LAMBDA_RUNTIME_API="+runtimeAPI,
		"AWS_LAMBDA_LOG_STREAM_NAME="+logStream,
	)
	sort.Strings(out)
	return out
}

// resolveCommand returns the executable path for argv0 the way a shell in the
// function's environment would find it: paths with a slash are taken as they
// are (relative ones against the task root, which is the working directory),
// bare names are searched in the function's PATH.
func resolveCommand(argv0, taskRoot, path string) string {
	if strings.Contains(argv0, "/") {
		if !filepath.IsAbs(argv0) && taskRoot != "" {
			return filepath.Join(taskRoot, argv0)
		}
		return argv0
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, argv0)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	// Not found: exec reports the error as Runtime.InvalidEntrypoint.
	return argv0
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
