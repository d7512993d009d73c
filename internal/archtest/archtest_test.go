package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/govkit/govkit"

// domains never import each other; they meet through events and the
// shared vocabulary.
var domains = []string{"incident", "dispatch", "sensor", "risk", "permit", "codes"}

// vocabulary is what every domain may use; it must not reach upwards.
var vocabulary = []string{"geo", "region", "clock", "calendar", "bus", "access", "pii", "audit"}

// thirdParty lists the module paths the core module may import (ARCHITECTURE.md
// justifies each beyond the design card's).
var thirdParty = []string{
	"github.com/google/uuid",
	"github.com/cockroachdb/apd/v3",
	"github.com/stretchr/testify",
	"github.com/hashicorp/go-memdb",
	"golang.org/x/sync",
	"github.com/tidwall/rtree",
	"github.com/veraison/go-cose",             // codes: COSE_Sign1 / COSE_Sign
	"github.com/oasisprotocol/curve25519-voi", // codes: fast Ed25519 (precomputed keys, AVX2)
	"github.com/fxamacker/cbor/v2",            // codes: CBOR claims and lists
	"github.com/boombuler/barcode",            // codes: QR encoder
	"github.com/makiuchi-d/gozxing",           // codes tests only: independent QR decoder
}

// top returns the first path element of a package inside the module, or "".
func top(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isStd(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || rel == "adapters" || isModule(path)) {
				return filepath.SkipDir // adapters and examples/production are other modules
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		from := strings.Split(filepath.ToSlash(rel), "/")[0]
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			to := top(imp)
			switch {
			case strings.HasPrefix(imp, module+"/adapters"):
				t.Errorf("%s imports adapter %s: the core module never depends on an adapter", rel, imp)
			case to != "" && contains(domains, from) && contains(domains, to) && from != to:
				t.Errorf("%s imports %s: domain packages never import each other", rel, imp)
			case to != "" && contains(vocabulary, from) && contains(domains, to):
				t.Errorf("%s imports %s: the shared vocabulary never imports a domain package", rel, imp)
			case to == "" && !isStd(imp) && !allowedThirdParty(imp):
				t.Errorf("%s imports %s, which is not on the core module's approved list", rel, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the walk rooted at the module?", checked)
	}
}

// isModule reports whether dir holds a go.mod: a module of its own, such
// as examples/production, whose imports are its own business.
func isModule(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}

func allowedThirdParty(imp string) bool {
	for _, p := range thirdParty {
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

// The rules themselves must catch what they are meant to catch.
func TestRuleHelpers(t *testing.T) {
	if top(module+"/incident/incidenttest") != "incident" || top("fmt") != "" {
		t.Fatal("top")
	}
	if !isStd("net/http") || isStd("github.com/x/y") {
		t.Fatal("isStd")
	}
	if !allowedThirdParty("github.com/stretchr/testify/require") || allowedThirdParty("github.com/jackc/pgx/v5") {
		t.Fatal("allowedThirdParty")
	}
	if _, err := os.Stat("../../go.mod"); err != nil {
		t.Fatal("archtest must sit two levels below the module root")
	}
}
