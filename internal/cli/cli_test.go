package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"testing"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/stretchr/testify/require"
)

func TestRunExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		err  error
		want int
	}{
		{"ok", nil, nil, 0},
		{"help", []string{"--help"}, nil, 0},
		{"unknown flag", []string{"--nope"}, nil, 2},
		{"usage error", nil, UsageError{"--x is required"}, 2},
		{"failure", nil, errors.New("boom"), 1},
		{"exit status", nil, ExitError{Code: 1}, 1},
		{"exit status of a failure", nil, fmt.Errorf("verify: %w", ExitError{Code: 2, Err: errors.New("boom")}), 2},
		{"usage error inside an exit status", nil, ExitError{Code: 3, Err: UsageError{"--x is required"}}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("prog", flag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			fs.String("x", "d", "an `x`")
			root := &ffcli.Command{Name: "prog", FlagSet: fs, Options: EnvOptions(),
				Exec: func(context.Context, []string) error { return c.err }}
			var stderr bytes.Buffer
			require.Equal(t, c.want, Run(context.Background(), "prog", root, c.args, &stderr))
		})
	}
}

func TestLogger(t *testing.T) {
	_, err := Log{"loud", "json"}.Logger("p", &bytes.Buffer{})
	require.ErrorAs(t, err, &UsageError{})
	_, err = Log{"info", "xml"}.Logger("p", &bytes.Buffer{})
	require.ErrorAs(t, err, &UsageError{})
	var out bytes.Buffer
	log, err := Log{"warn", "json"}.Logger("p", &out)
	require.NoError(t, err)
	log.Info().Msg("hidden")
	log.Warn().Msg("shown")
	require.NotContains(t, out.String(), "hidden")
	require.Contains(t, out.String(), `"program":"p"`)
}

func TestUsageNamesEnvAndDefaults(t *testing.T) {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.String("source-url", "", "source `URL`")
	fs.Int("batch-size", 10, "changes per batch")
	u := Usage(&ffcli.Command{ShortHelp: "Does things.", ShortUsage: "prog [flags]", FlagSet: fs})
	require.Contains(t, u, "--source-url URL")
	require.Contains(t, u, "PGFANOUT_SOURCE_URL")
	require.Contains(t, u, "PGFANOUT_BATCH_SIZE")
	require.Contains(t, u, "(default 10)")
}

func TestRequiredNamesFlagAndEnv(t *testing.T) {
	err := Required("source-url")
	require.ErrorAs(t, err, &UsageError{})
	require.EqualError(t, err, "--source-url (or PGFANOUT_SOURCE_URL) is required")
}

func TestExitErrorPrintsItsError(t *testing.T) {
	run := func(err error) string {
		fs := flag.NewFlagSet("prog", flag.ContinueOnError)
		root := &ffcli.Command{Name: "prog", FlagSet: fs, Exec: func(context.Context, []string) error { return err }}
		var stderr bytes.Buffer
		Run(context.Background(), "prog", root, nil, &stderr)
		return stderr.String()
	}
	require.Equal(t, "prog: boom\n", run(ExitError{Code: 2, Err: errors.New("boom")}))
	require.Empty(t, run(ExitError{Code: 1}), "a bare exit status prints nothing")
}

func TestProgressPrinterWritesOneLinePerCallWhenNotATerminal(t *testing.T) {
	var out bytes.Buffer
	line := ProgressPrinter(&out)
	line("a", false)
	line("b", true)
	require.Equal(t, "a\nb\n", out.String())
}
