// Command pulumi-language-python is the Python language host that the Pulumi engine starts to run
// this project's program and its policy packs.
//
// Why it exists: Pulumi publishes its own host only as a Go module with no release tags, and the
// Go module proxy reachable from the project's machines does not serve it. The engine (the
// `pulumi` CLI, built from github.com/pulumi/pulumi/pkg/v3) only needs a process that speaks the
// LanguageRuntime gRPC protocol, so this host implements that protocol on top of Pulumi's own Go
// SDK (github.com/pulumi/pulumi/sdk/v3): the same toolchain package resolves the virtualenv, the
// same `pulumi-language-python-exec` shim from the SDK module runs the program, and policy packs
// go through the SDK's policy proxy, as upstream does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The SDK's program runner; it must sit next to this binary.
	executorName = "pulumi-language-python-exec"
	// Exit code the Python SDK uses after it has already shown the user an actionable message.
	exitAfterUserMessage = 32
	// How long the host keeps running without its engine before exiting.
	engineHealthWindow = 2 * time.Second
)

// pluginDiscoveryScript prints, as JSON, every installed distribution that ships a
// pulumi-plugin.json declaring a resource plugin, so the engine can install missing plugins.
const pluginDiscoveryScript = `import importlib.metadata, json
found = []
for dist in importlib.metadata.distributions():
    for f in dist.files or []:
        if f.name != "pulumi-plugin.json":
            continue
        try:
            data = json.loads(f.read_text())
        except Exception:
            continue
        if data.get("resource", True):
            found.append({"name": data.get("name") or dist.metadata["Name"].removeprefix("pulumi-"),
                          "version": data.get("version") or dist.version,
                          "server": data.get("server", "")})
print(json.dumps(found))`

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	flag.String("tracing", "", "accepted for compatibility with the engine; tracing is not emitted")
	executor := flag.String("use-executor", "", "path of the program runner (default: next to this binary)")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	runner, err := findExecutor(*executor)
	if err != nil {
		cmdutil.Exit(err)
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	cancelServe := make(chan bool)
	go func() {
		<-ctx.Done()
		stop()
		close(cancelServe)
	}()
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, engineHealthWindow, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start the engine health check: %w", err))
		}
	}

	runCtx, cancelRuns := context.WithCancel(context.Background())
	host := &languageHost{executor: runner, engineAddress: engineAddress, runCtx: runCtx, cancelRuns: cancelRuns}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelServe,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host server: %w", err))
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped serving: %w", err))
	}
}

func findExecutor(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("could not locate this executable: %w", err)
	}
	path := filepath.Join(filepath.Dir(self), executorName)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("missing %s next to the language host (run the project's setup): %w", path, err)
	}
	return path, nil
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor      string
	engineAddress string
	runCtx        context.Context // cancelled by the Cancel RPC
	cancelRuns    context.CancelFunc
}

// resolveToolchain reads the runtime options of Pulumi.yaml (or PulumiPolicy.yaml).
func resolveToolchain(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Root: info.RootDirectory, ProgramDir: info.ProgramDirectory}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return nil, errors.New("the runtime option 'virtualenv' must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := options["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "uv":
			opts.Toolchain = toolchain.Uv
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		default:
			return nil, fmt.Errorf("unsupported runtime option toolchain=%v (allowed: pip, uv, poetry)", v)
		}
	}
	if v, ok := options["typechecker"]; ok && v != "" {
		return nil, fmt.Errorf("the runtime option typechecker=%v is not supported by this language host", v)
	}
	if isPlugin && opts.Virtualenv == "" && (opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) {
		opts.Virtualenv = "venv"
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.EngineAddress
	if err := rpcutil.Healthcheck(context.Background(), h.engineAddress, engineHealthWindow, func() {}); err != nil {
		return nil, fmt.Errorf("could not start the engine health check: %w", err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := resolveToolchain(req.Info, false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginDiscoveryScript)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the resource plugins of installed packages: %w", err)
	}
	var found []struct{ Name, Version, Server string }
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("reading the plugin list: %w", err)
	}
	packages := make([]*pulumirpc.PackageDependency, 0, len(found))
	for _, p := range found {
		v := p.Version
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		packages = append(packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: p.Name, Version: v, Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engineAddress == "" {
		return nil, errors.New("the engine address is unknown: Handshake must come before Run")
	}
	tc, err := resolveToolchain(req.Info, false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("serializing the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing the secret configuration keys: %w", err)
	}

	cmdCtx, cancel := context.WithCancel(h.runCtx)
	defer cancel()
	context.AfterFunc(ctx, cancel)
	cmd, err := tc.Command(cmdCtx, append([]string{h.executor}, h.executorArgs(req)...)...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	addEnv(cmd, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	err = cmd.Run()
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	if exitErr.ExitCode() == exitAfterUserMessage {
		return &pulumirpc.RunResponse{Bail: true}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
}

// executorArgs are the flags pulumi-language-python-exec expects, then the entry point.
func (h *languageHost) executorArgs(req *pulumirpc.RunRequest) []string {
	var args []string
	flags := [][2]string{
		{"monitor", req.GetMonitorAddress()},
		{"engine", h.engineAddress},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", strconv.FormatBool(req.GetDryRun())},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"organization", req.GetOrganization()},
	}
	for _, f := range flags {
		if f[1] != "" {
			args = append(args, "--"+f[0], f[1])
		}
	}
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := resolveToolchain(req.Info, req.IsPlugin)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.IsTerminal)
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.InstallDependencies(server.Context(), req.Info.ProgramDirectory, req.UseLanguageVersionTools,
		true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{}
	}
	tc, err := resolveToolchain(info, false)
	if err != nil {
		return nil, err
	}
	about, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: about.PythonExecutable, Version: about.PythonVersion.String()}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.Info, false)
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.TransitiveDependencies)
	if err != nil {
		return nil, fmt.Errorf("listing the program's Python packages: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, len(pkgs))
	for i, p := range pkgs {
		deps[i] = &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version}
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs policy packs (`python -u -m pulumi.policy ... <pack dir>`) and plugins that
// ship a __main__.py.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	isPolicyPack := req.Kind == string(apitype.AnalyzerPlugin)
	tc, err := resolveToolchain(req.Info, !isPolicyPack)
	if err != nil {
		return err
	}
	var args []string
	if isPolicyPack {
		args = append(append([]string{"-u", "-m", "pulumi.policy"}, req.Args...), req.Info.ProgramDirectory)
	} else {
		args = append([]string{req.Info.ProgramDirectory}, req.Args...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		// Policy packs run from their own directory and need the stack's configuration, which
		// the engine hands over through the policy proxy's ConfigureStack call.
		cmd.Dir = req.Info.ProgramDirectory
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		config, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration: %w", err)
		}
		if config != nil {
			addEnv(cmd, policyEnv(config)...)
		}
	} else {
		cmd.Dir = req.Pwd
	}
	addEnv(cmd, req.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start the plugin: %w", err)
	}
	if proxy != nil {
		return proxy.Attach(ctx, cmd)
	}
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(status.ExitStatus())},
				})
			}
		}
		return fmt.Errorf("the plugin failed: %w", err)
	}
	return closer.Close()
}

// addEnv adds variables to a command's environment, starting from ours when the toolchain set none.
func addEnv(cmd *exec.Cmd, vars ...string) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, vars...)
}

func policyEnv(config *pulumirpc.AnalyzerStackConfigureRequest) []string {
	env := []string{"PULUMI_DRY_RUN=" + strconv.FormatBool(config.DryRun)}
	for k, v := range map[string]string{
		"PULUMI_ORGANIZATION": config.Organization, "PULUMI_PROJECT": config.Project, "PULUMI_STACK": config.Stack,
	} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	if config.Config != nil {
		if data, err := json.Marshal(config.Config); err == nil {
			env = append(env, "PULUMI_CONFIG="+string(data))
		}
	}
	return env
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelRuns()
	return &emptypb.Empty{}, nil
}
