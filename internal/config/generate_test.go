package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write the files generated from the flag table (make man)")

// TestGeneratedFiles fails when a file generated from the flag table (the
// completions, docs/options.md) differs from what the table gives now;
// with -update it writes them.
func TestGeneratedFiles(t *testing.T) {
	for path, gen := range GeneratedFiles {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		file := filepath.Join(repoRoot(t), filepath.FromSlash(path))
		if *update {
			if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		committed, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, b.Bytes()) {
			t.Errorf("%s differs from what the flag table gives: run make man and commit it", path)
		}
	}
}

// repoRoot is the directory of l2tap's go.mod, found upwards from the
// working directory: the package's when go test runs it, the
// repository's when make cross runs a test binary under qemu-user.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/l2tap/l2tap\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/l2tap/l2tap above the working directory")
		}
		dir = parent
	}
}

// TestGeneratedFilesFollowTable checks that the generated texts change
// with the table: a new entry appears in every file, with its values.
func TestGeneratedFilesFollowTable(t *testing.T) {
	orig := flagTable
	t.Cleanup(func() { flagTable = orig })
	extra := Flag{Name: "frobnicate", Level: LevelSession, Arg: "MODE", Usage: "frobnicate the frames", Summary: "frobnicate",
		Default: "`off`", Values: []string{"gently", "hard"}, field: func(o *Options) value { return &o.Offload }}
	table := append(orig(), extra)
	flagTable = func() []Flag { return table }
	for path, gen := range GeneratedFiles {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"frobnicate", "gently hard"} {
			if path == "docs/options.md" && want == "gently hard" {
				want = "| `-frobnicate MODE` | `[[tunnel.session]]` | frobnicate the frames | `off` |"
			}
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s with a new entry lacks %q", path, want)
			}
		}
	}
	if keys := FileKeys(LevelSession); keys[len(keys)-1] != "frobnicate" {
		t.Errorf("session keys %v lack the new entry", keys)
	}
	var o Options
	found := false
	for _, f := range Flags(&o) {
		found = found || f.Names()[0] == "frobnicate"
	}
	if !found {
		t.Error("Flags lacks the new entry")
	}
}

// TestFlagTable checks each entry for what the derived files need: a
// usage, a completion summary for a flag, an argument name exactly for
// the options that take a value, value words only for strings, a limit
// only for numbers, and names given once.
func TestFlagTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range FlagTable() {
		if seen[f.Name] {
			t.Errorf("%s: twice in the table", f.Name)
		}
		seen[f.Name] = true
		typ := f.Type()
		switch {
		case f.Usage == "":
			t.Errorf("%s: no usage", f.Name)
		case f.Summary == "" && !f.FileOnly:
			t.Errorf("%s: no summary for completion", f.Name)
		case (f.Arg == "") != (typ == TypeSwitch) && !f.FileOnly:
			t.Errorf("%s: argument name %q for a value of type %d", f.Name, f.Arg, typ)
		case len(f.Values) > 0 && typ != TypeString:
			t.Errorf("%s: value words for a value of type %d", f.Name, typ)
		case f.max != 0 && typ != TypeUint:
			t.Errorf("%s: a limit for a value of type %d", f.Name, typ)
		case f.NameOrNumber && typ != TypeString:
			t.Errorf("%s: name or number for a value of type %d", f.Name, typ)
		case f.FileOnly && f.Level == LevelCommandLine:
			t.Errorf("%s: both file only and command line only", f.Name)
		}
	}
	// Every field of Options is some entry's: an option without an entry
	// would be neither a flag nor a key.
	var o Options
	fields := map[value]bool{}
	for _, f := range FlagTable() {
		fields[f.field(&o)] = true
	}
	for name, v := range optionValues(&o) {
		if !fields[v] {
			t.Errorf("Options.%s has no entry in the flag table", name)
		}
	}
}

// optionValues returns every flag value in o by its field's path (such
// as Keepalive.Hello), found by reflection.
func optionValues(o *Options) map[string]value {
	out := map[string]value{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f, name := v.Field(i), prefix+v.Type().Field(i).Name
			if x, ok := f.Addr().Interface().(value); ok {
				out[name] = x
			} else if f.Kind() == reflect.Struct {
				walk(f, name+".")
			}
		}
	}
	walk(reflect.ValueOf(o).Elem(), "")
	return out
}
