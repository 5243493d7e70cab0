package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// logMsgArg maps the logging methods of log/slog (the package's functions
// and *slog.Logger's methods) to the index of their message argument.
var logMsgArg = map[string]int{
	"Debug": 0, "Info": 0, "Warn": 0, "Error": 0,
	"DebugContext": 1, "InfoContext": 1, "WarnContext": 1, "ErrorContext": 1,
	"Log": 2, "LogAttrs": 2,
}

// isLogger reports whether x, the receiver of a logging method, is slog
// itself, slog.Default(), or a value named like a logger (log, Log,
// logger, cfg.Log): l2tap passes loggers under such names only.
func isLogger(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		if x.Name == "slog" {
			return true
		}
		n := strings.ToLower(x.Name)
		return strings.HasSuffix(n, "log") || strings.HasSuffix(n, "logger")
	case *ast.SelectorExpr:
		n := strings.ToLower(x.Sel.Name)
		return strings.HasSuffix(n, "log") || strings.HasSuffix(n, "logger")
	case *ast.CallExpr:
		s, ok := x.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		id, ok := s.X.(*ast.Ident)
		return ok && id.Name == "slog" && s.Sel.Name == "Default"
	}
	return false
}

// logForwarder is a function that hands one of its parameters to a logging
// call as the message: its callers must pass a constant there.
type logForwarder struct {
	name string
	arg  int
}

// nonConstantLogMessages returns, as "file:line: call", every logging call
// in files (one package) whose message is not a constant string: a string
// literal, a declared constant, or a concatenation of those. A message
// that is a parameter of the enclosing function makes that function a
// forwarder, whose callers in the package are checked in turn.
func nonConstantLogMessages(fset *token.FileSet, files []*ast.File) []string {
	consts := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
				for _, s := range d.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						consts[id.Name] = true
					}
				}
			}
			return true
		})
	}
	var isConst func(e ast.Expr) bool
	isConst = func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.BasicLit:
			return e.Kind == token.STRING
		case *ast.Ident:
			return consts[e.Name]
		case *ast.ParenExpr:
			return isConst(e.X)
		case *ast.BinaryExpr:
			return e.Op == token.ADD && isConst(e.X) && isConst(e.Y)
		}
		return false
	}
	var bad []string
	report := func(call *ast.CallExpr) {
		bad = append(bad, fset.Position(call.Pos()).String()+": "+exprString(fset, call.Fun))
	}
	// check looks at the calls of one function body: logging calls, and
	// calls of the forwarders found so far.
	forwarders := map[logForwarder]bool{}
	check := func(fd *ast.FuncDecl, found func(logForwarder)) {
		params := map[string]int{}
		i := 0
		for _, fl := range fd.Type.Params.List {
			if len(fl.Names) == 0 {
				i++
			}
			for _, id := range fl.Names {
				params[id.Name] = i
				i++
			}
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			idx := -1
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				if a, ok := logMsgArg[fn.Sel.Name]; ok && isLogger(fn.X) && len(call.Args) > a {
					idx = a
				}
				for fw := range forwarders {
					if fw.name == fn.Sel.Name {
						idx = fw.arg
					}
				}
			case *ast.Ident:
				for fw := range forwarders {
					if fw.name == fn.Name {
						idx = fw.arg
					}
				}
			}
			if idx < 0 || idx >= len(call.Args) {
				return true
			}
			msg := call.Args[idx]
			if isConst(msg) {
				return true
			}
			if id, ok := msg.(*ast.Ident); ok {
				if p, ok := params[id.Name]; ok {
					if found != nil {
						found(logForwarder{fd.Name.Name, p})
					}
					return true
				}
			}
			if found == nil {
				report(call)
			}
			return true
		})
	}
	var funcs []*ast.FuncDecl
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				funcs = append(funcs, fd)
			}
		}
	}
	// Find the forwarders (to a fixed point: one may call another), then
	// report what is left.
	for changed := true; changed; {
		changed = false
		for _, fd := range funcs {
			check(fd, func(fw logForwarder) {
				if !forwarders[fw] {
					forwarders[fw], changed = true, true
				}
			})
		}
	}
	for _, fd := range funcs {
		check(fd, nil)
	}
	return bad
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	p := fset.Position(e.Pos())
	q := fset.Position(e.End())
	b, err := os.ReadFile(p.Filename)
	if err != nil || q.Offset > len(b) {
		return "?"
	}
	return string(b[p.Offset:q.Offset])
}

// TestLogMessagesConstant checks that every log line of l2tap has a constant
// message, its details in attributes, so that JSON logs can be grouped by
// message: it parses the module's non-test Go files, package by package.
func TestLogMessagesConstant(t *testing.T) {
	byDir := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "debian") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(byDir["."]) == 0 || len(byDir[filepath.Join("internal", "engine")]) == 0 {
		t.Fatalf("found no Go files of the root or internal/engine in %v", byDir)
	}
	var dirs []string
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	fset := token.NewFileSet()
	calls := 0
	for _, d := range dirs {
		var files []*ast.File
		for _, path := range byDir[d] {
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
			calls += strings.Count(string(mustRead(t, path)), "slog.")
		}
		for _, b := range nonConstantLogMessages(fset, files) {
			t.Errorf("%s: the message is not a constant string (give a constant message and the details as attributes)", b)
		}
	}
	if calls == 0 {
		t.Fatal("no slog use found: the scan looked in the wrong place")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNonConstantLogMessages checks the checker: each source must yield the
// calls listed, by line.
func TestNonConstantLogMessages(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []int // lines of the calls reported
	}{
		{"literal", `slog.Info("ready", "tap", name)`, nil},
		{"constant and concatenation", `const m = "a"; slog.Warn(m + "b"); log.Error(("c"))`, nil},
		{"sprintf", `slog.Warn(fmt.Sprintf("tap %s", name))`, []int{1}},
		{"err.Error()", `slog.Error(err.Error())`, []int{1}},
		{"variable", `msg := "x"; slog.Info(msg)`, []int{1}},
		{"logger field", `k.cfg.Log.Warn(msg)`, []int{1}},
		{"slog.Default().LogAttrs", `slog.Default().LogAttrs(ctx, slog.LevelWarn, "x"+err.Error())`, []int{1}},
		{"context variant", `logger.InfoContext(ctx, name)`, []int{1}},
		{"not a logger", `t.Error(err.Error()); p.Error(); fmt.Println(name)`, nil},
		{"forwarder with constants", "warn(1, \"dropped\")\n}\nfunc warn(n int, msg string) {\nslog.Warn(msg, \"count\", n)", nil},
		{"forwarder with a built message", "warn(1, \"dropped: \"+err.Error())\n}\nfunc warn(n int, msg string) {\nslog.Warn(msg, \"count\", n)", []int{1}},
		{"method forwarder", "k.warn(fmt.Sprint(x), \"c\")\n}\nfunc (k *K) warn(msg, c string) {\nk.log.Warn(msg)", []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The snippet is the body of f, starting on line 1 of the file's
			// body; the package clause and func line come before it.
			src := "package p\nfunc f() {\n" + tc.src + "\n}\n"
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", src, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, b := range nonConstantLogMessages(fset, []*ast.File{f}) {
				// "p.go:LINE:COL: call"
				parts := strings.SplitN(b, ":", 3)
				line, _ := strconv.Atoi(parts[1])
				got = append(got, line-2)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("reported %v, want lines %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("reported lines %v, want %v", got, tc.want)
				}
			}
		})
	}
}
