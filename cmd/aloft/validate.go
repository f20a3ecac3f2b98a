package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/template"
)

func newValidateCommand() *cobra.Command {
	var parameters []string
	cmd := &cobra.Command{
		Use:   "validate [TEMPLATE]",
		Short: "Check a template and list what aloft would run",
		RunE: func(cmd *cobra.Command, args []string) error {
			path, extra, err := splitTemplateArg(args)
			if err != nil {
				return err
			}
			params, err := parseParameterOverrides(append(parameters, extra...))
			if err != nil {
				return err
			}
			stack, err := template.Load(path, template.Options{Parameters: params})
			if err != nil {
				return err
			}
			fns, err := stack.Functions()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, fn := range fns {
				fmt.Fprintf(out, "function %s (%s, %s)\n", fn.Name, fn.Runtime, fn.CodePath)
			}
			for _, w := range stack.Warnings {
				fmt.Fprintf(out, "warning: %s\n", w)
			}
			fmt.Fprintf(out, "%s is valid\n", path)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&parameters, "parameter-overrides", nil, "template parameters: Key=Value or ParameterKey=Key,ParameterValue=Value")
	return cmd
}
