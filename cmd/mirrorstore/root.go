package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable that stands for each flag:
// --data is MIRRORSTORE_DATA, --shutdown-timeout MIRRORSTORE_SHUTDOWN_TIMEOUT.
const envPrefix = "MIRRORSTORE_"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mirrorstore",
		Short:         "S3-compatible object storage that fills misses from an origin site",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every subcommand's flags fall back to the environment, here in
		// one place.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd.Flags(), os.LookupEnv)
		},
	}
	root.AddCommand(newServerCmd(), newMigrateCmd(), newRulesCmd(), newVersionCmd(), newHealthCmd())
	return root
}

// envName is the variable that stands for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv sets every flag not given on the command line from its
// MIRRORSTORE_* variable, when that is set.
func flagsFromEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		if v, ok := lookup(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}
