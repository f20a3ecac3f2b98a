// Command aloft runs AWS SAM applications on your own machines: `aloft up` builds
// and serves a template's functions behind an AWS-compatible endpoint, and
// `aloft invoke` calls them. Each subcommand lives in its own file and stays thin:
// flags, then configuration, then the internal packages do the work.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "aloft:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "aloft",
		Short:         "Run AWS SAM applications on your own machines",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUpCommand(), newInvokeCommand(), newValidateCommand(), newEventsCommand())
	return root
}
