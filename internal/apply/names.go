package apply

import (
	"encoding/json"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/rawjson"
)

// currentNames returns c with its images' members renamed to the replica's current column
// names, for an image captured before the source renamed a column (the replica followed the
// RENAME, see internal/follow): json_populate_record matches members by name. A change whose
// images use no old name comes back as it is.
func (t *table) currentNames(c *change.Change) (*change.Change, error) {
	row, rowChanged, err := t.rename(c.Row)
	if err != nil {
		return nil, err
	}
	key, keyChanged, err := t.rename(c.Key)
	if err != nil {
		return nil, err
	}
	if !rowChanged && !keyChanged {
		return c, nil
	}
	out := *c
	out.Row, out.Key = row, key
	return &out, nil
}

// rename rewrites the members of JSON object raw that an alias names (raw itself, unchanged,
// when none does, or when raw is not an object). It reads raw twice only when it must rewrite.
func (t *table) rename(raw json.RawMessage) (json.RawMessage, bool, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return raw, false, nil
	}
	found := false
	s := rawjson.New(raw)
	if _, err := s.Object(func(m rawjson.Member) error {
		name, err := m.Text()
		_, renamed := t.aliases[string(name)]
		found = found || renamed
		return err
	}); err != nil || !found {
		return raw, false, err
	}
	out := append(make([]byte, 0, len(raw)+16), '{')
	s = rawjson.New(raw)
	_, err := s.Object(func(m rawjson.Member) error {
		if len(out) > 1 {
			out = append(out, ',')
		}
		name, err := m.Text()
		if err != nil {
			return err
		}
		if cur, renamed := t.aliases[string(name)]; renamed {
			quoted, err := json.Marshal(cur)
			if err != nil {
				return err
			}
			out = append(out, quoted...)
		} else {
			out = append(out, m.Name...)
		}
		out = append(append(out, ':'), m.Value...)
		return nil
	})
	if err != nil {
		return raw, false, err
	}
	return append(out, '}'), true, nil
}
