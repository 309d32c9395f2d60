package cli

import (
	"fmt"
	"io"
	"os"
)

// ProgressPrinter writes the progress lines of a command that runs to completion (`replicator
// resync`, `replicator verify`): rewritten in place on a terminal, one per call otherwise; the
// last line (last true) stays.
func ProgressPrinter(out io.Writer) func(line string, last bool) {
	tty := false
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(line string, last bool) {
		switch {
		case tty && !last:
			fmt.Fprintf(out, "\r%s\033[K", line)
		case tty:
			fmt.Fprintf(out, "\r%s\033[K\n", line)
		default:
			fmt.Fprintln(out, line)
		}
	}
}
