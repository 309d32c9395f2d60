package follow

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/schema"
)

func col(attnum int, name, typ string) schema.Column {
	return schema.Column{Attnum: attnum, Name: name, Type: schema.TypeRef{Builtin: typ}}
}

func table(cols ...schema.Column) *schema.Table {
	return &schema.Table{Name: schema.Name{Schema: "s", Name: "t"}, Columns: cols, PrimaryKey: []string{"id"}}
}

var base = table(col(1, "id", "integer"), col(2, "a", "text"), col(3, "b", "integer"))

func TestDiff(t *testing.T) {
	prev := ShapeOf(base)
	volatile := col(4, "at", "timestamp with time zone")
	volatile.OmittedDefault = "clock_timestamp()"
	constant := col(4, "n", "integer")
	constant.Default, constant.NotNull = "42", true
	notNull := base.Columns[1]
	notNull.NotNull = true
	cases := []struct {
		name       string
		prev       *Shape
		names      Names
		src        *schema.Table
		replica    []string
		statements []string
		aliases    map[string]string
		ignored    []string
		resync     bool
		unsup      bool
	}{
		{name: "unchanged", prev: &prev, src: base, replica: []string{"id", "a", "b"}},
		{name: "first sight adds what the replica lacks", src: base, replica: []string{"id", "mine"},
			statements: []string{`ALTER TABLE "s"."t" ADD COLUMN "a" text`, `ALTER TABLE "s"."t" ADD COLUMN "b" integer`}},
		{name: "add with a constant default", prev: &prev, src: table(append(base.Columns, constant)...), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" ADD COLUMN "n" integer DEFAULT (42) NOT NULL`}},
		{name: "add with a volatile default needs a copy", prev: &prev, src: table(append(base.Columns, volatile)...), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" ADD COLUMN "at" timestamp with time zone`}, resync: true},
		{name: "drop", prev: &prev, src: table(base.Columns[0], base.Columns[2]), replica: []string{"id", "a", "b", "mine"},
			statements: []string{`ALTER TABLE "s"."t" DROP COLUMN "a"`}, ignored: []string{"a"}},
		{name: "rename", prev: &prev, src: table(base.Columns[0], col(2, "a2", "text"), base.Columns[2]), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" RENAME COLUMN "a" TO "a2"`}, aliases: map[string]string{"a": "a2"}},
		{name: "rename twice keeps the first name", prev: &prev, names: Names{Aliases: map[string]string{"z": "a"}},
			src: table(base.Columns[0], col(2, "a2", "text"), base.Columns[2]), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" RENAME COLUMN "a" TO "a2"`}, aliases: map[string]string{"a": "a2", "z": "a2"}},
		{name: "retype", prev: &prev, src: table(base.Columns[0], base.Columns[1], col(3, "b", "bigint")), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" ALTER COLUMN "b" TYPE bigint USING "b"::bigint`}},
		{name: "drop and add again under the same name needs a copy", prev: &prev,
			src: table(base.Columns[0], base.Columns[2], col(4, "a", "text")), replica: []string{"id", "a", "b"},
			statements: []string{`ALTER TABLE "s"."t" ALTER COLUMN "a" TYPE text USING "a"::text`}, resync: true},
		{name: "not null dropped", prev: func() *Shape { s := ShapeOf(table(base.Columns[0], notNull, base.Columns[2])); return &s }(),
			src: base, replica: []string{"id", "a", "b"}, statements: []string{`ALTER TABLE "s"."t" ALTER COLUMN "a" DROP NOT NULL`}},
		{name: "a new key cannot be followed", prev: &prev, src: &schema.Table{Name: base.Name, Columns: base.Columns, PrimaryKey: []string{"a"}},
			replica: []string{"id", "a", "b"}, unsup: true},
		{name: "an ignored name that comes back is a column again", prev: &prev, names: Names{Ignored: []string{"gone", "a"}}, src: base,
			replica: []string{"id", "a", "b"}, ignored: []string{"gone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Diff(c.prev, c.names, c.src, c.replica)
			if c.unsup {
				require.NotEmpty(t, p.Unsupported)
				require.Empty(t, p.Statements)
				return
			}
			require.Empty(t, p.Unsupported)
			require.Equal(t, c.statements, p.Statements)
			require.Equal(t, c.resync, p.Resync)
			if c.aliases == nil {
				c.aliases = map[string]string{}
			}
			require.Equal(t, c.aliases, p.Names.Aliases)
			require.Equal(t, c.ignored, p.Names.Ignored)
			require.Equal(t, ShapeOf(c.src), p.Shape)
		})
	}
}
