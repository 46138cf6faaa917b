// Writes a real Go heap profile of a real workload, for the parse benchmark:
//
//	go run realheap.go OUT raw|gz BYTES
//
// With every allocation sampled (MemProfileRate = 1) it parses and type-checks standard
// library packages, smallest first, until the profile reaches BYTES decompressed (raw) or
// as served (gz). go/parser and go/types give what a busy server's heap profile has: tens of
// thousands of distinct stacks up to Go's 32-frame limit through hundreds of real functions,
// with inlining, so the samples, not the string table, are most of the bytes (over 90% of
// a 1 MiB profile, as in large heap profiles of real servers). The parsed files stay
// reachable, so about 40% of the samples have in-use bytes, which the analysis walks
// frame by frame (samples with none it skips). The file is written by runtime/pprof
// exactly as /debug/pprof/heap serves it (gzip, BestSpeed).
// Standard library only.
package main

import (
	"bytes"
	"compress/gzip"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Kept alive so that the profile has in-use bytes as well as allocations.
var (
	keepFiles []*ast.File
	keep      []*types.Package
)

// size of the heap profile so far: as served (gzip) and decompressed.
func size() (gz, raw int) {
	// The heap profile is as of the last completed GC.
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.WriteHeapProfile(&buf); err != nil {
		panic(err)
	}
	gz = buf.Len()
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		panic(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		panic(err)
	}
	return gz, int(n)
}

func main() {
	runtime.MemProfileRate = 1
	want, err := strconv.Atoi(os.Args[3])
	if err != nil {
		panic(err)
	}
	pkgs := []string{
		"unicode/utf8", "container/list", "sort", "strconv", "bufio", "path", "errors",
		"strings", "bytes", "flag", "net/url", "encoding/csv", "regexp/syntax", "regexp",
		"text/tabwriter", "encoding/json", "fmt", "archive/tar", "compress/flate", "go/ast",
		"text/template", "image/png", "encoding/xml", "math/big", "database/sql", "net/mail",
		"mime/multipart", "go/printer", "debug/elf", "crypto/x509", "html/template",
		"go/types", "net/http",
	}
	fset := token.NewFileSet()
	imp := importer.Default()
	last := 0
	enough := func() bool {
		gz, raw := size()
		last = raw
		if os.Args[2] == "gz" {
			last = gz
		}
		return last >= want
	}
	// Checked before every package and, once within 10% of BYTES, before every file, so
	// the profile ends within one file of BYTES.
pkgs:
	for _, p := range pkgs {
		if enough() {
			break
		}
		dir := filepath.Join(runtime.GOROOT(), "src", p)
		entries, err := os.ReadDir(dir)
		if err != nil {
			panic(err)
		}
		byPkg := map[string][]*ast.File{}
		for _, e := range entries {
			n := e.Name()
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			if last >= want*9/10 && enough() {
				break pkgs
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
			if err != nil {
				panic(err)
			}
			byPkg[f.Name.Name] = append(byPkg[f.Name.Name], f)
			keepFiles = append(keepFiles, f)
		}
		for name, files := range byPkg {
			if name == "main" || name == "ignore" {
				continue
			}
			if enough() {
				break pkgs
			}
			conf := types.Config{Importer: imp, Error: func(error) {}}
			tp, _ := conf.Check(p, fset, files, nil)
			keep = append(keep, tp)
		}
	}
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
