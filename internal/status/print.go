package status

import (
	"context"
	"io"

	"github.com/pgfanout/pgfanout/internal/cli"
)

// Print reads a report and writes it as text, or as JSON; it returns exit status 1 (a
// cli.ExitError) when a part could not be read, after printing what could.
func Print(ctx context.Context, cfg Config, asJSON bool, w io.Writer) error {
	r, err := Read(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		err = r.WriteJSON(w)
	} else {
		err = r.WriteText(w)
	}
	if err != nil {
		return err
	}
	if !r.Complete() {
		return cli.ExitError{Code: 1}
	}
	return nil
}
