package testservers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Glue is a loopback stand-in for the AWS Glue Data Catalog, enough for
// Iceberg catalogs (iceberg-go's catalog/glue): the AWS JSON 1.1 protocol
// (POST /, X-Amz-Target: AWSGlue.<Operation>) with the operations
// CreateDatabase, GetDatabase, GetDatabases, UpdateDatabase,
// DeleteDatabase, CreateTable, GetTable, GetTables, UpdateTable and
// DeleteTable, and Glue's error shapes (EntityNotFoundException,
// AlreadyExistsException, ConcurrentModificationException,
// InvalidInputException; HTTP 400, {"__type": ..., "Message": ...}).
//
// What matters for Iceberg is UpdateTable's optimistic concurrency, which
// it keeps as AWS documents it: every table has a VersionId; an UpdateTable
// naming a VersionId other than the current one fails with
// ConcurrentModificationException and changes nothing; one without a
// VersionId replaces the table unconditionally. Each successful update
// gives the table the next VersionId. (moto's UpdateTable ignores
// VersionId, so two racing writers would both "win": a lost commit that
// AWS would never allow.)
//
// Where it differs from AWS, knowingly: no authentication (signatures are
// not checked) and no IAM; one catalog whatever CatalogId says; VersionIds
// count from "1" (AWS: opaque strings); no table version archive (SkipArchive
// is accepted and ignored, GetTableVersions is not served); no partitions,
// no Lake Formation, no pagination (NextToken is never returned); names are
// kept as given (AWS lower-cases database and table names); TableInput is
// stored as sent, not validated against Glue's schema beyond Name.
// Unknown operations answer 400 UnknownOperationException.
type Glue struct {
	URL string

	mu     sync.Mutex
	dbs    map[string]map[string]any // database name -> Database
	tables map[string]map[string]any // "db\x00table" -> Table

	// Conflicts counts UpdateTable calls refused for a stale VersionId.
	Conflicts atomic.Int64
	// Updates counts successful UpdateTable calls.
	Updates atomic.Int64

	calls map[string]int // operation -> requests, under mu

	hold *barrier
}

// barrier holds UpdateTable calls until n of them are waiting (or a
// minute passed), then lets them through one at a time, in arrival order.
type barrier struct {
	n       int
	waiting int
	open    chan struct{}
	once    sync.Once
}

// NewGlue starts the Glue stand-in on loopback.
func NewGlue(t testing.TB) *Glue {
	t.Helper()
	g := &Glue{dbs: map[string]map[string]any{}, tables: map[string]map[string]any{}}
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	g.URL = ts.URL
	return g
}

// HoldUpdates makes the next UpdateTable calls wait until n of them have
// arrived, then serves them in arrival order: writers that loaded the same
// table version then race for real, and all but the first get
// ConcurrentModificationException. If fewer than n arrive within a minute,
// those waiting are served anyway (the test then sees no conflict and says
// so; it does not hang).
func (g *Glue) HoldUpdates(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = &barrier{n: n, open: make(chan struct{})}
}

// Table returns a copy of a stored table (as GetTable answers it) and
// whether it exists.
func (g *Glue) Table(database, name string) (map[string]any, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tb, ok := g.tables[database+"\x00"+name]
	return maps.Clone(tb), ok
}

type glueError struct {
	code, msg string
}

func (e *glueError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, args ...any) *glueError {
	return &glueError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (g *Glue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSGlue.")
	if r.Method != http.MethodPost || !ok {
		writeGlue(w, nil, errorf("UnknownOperationException", "want POST with X-Amz-Target: AWSGlue.<Operation>"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var in map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		writeGlue(w, nil, errorf("SerializationException", "request body: %v", err))
		return
	}
	if op == "UpdateTable" {
		g.wait()
	}
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]int{}
	}
	g.calls[op]++
	out, gerr := g.serve(op, in)
	g.mu.Unlock()
	writeGlue(w, out, gerr)
}

// Calls counts the requests served so far by operation, for tests that
// check a client calls only what its IAM policy grants.
func (g *Glue) Calls() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.calls)
}

// wait holds an UpdateTable call while a barrier is set.
func (g *Glue) wait() {
	g.mu.Lock()
	b := g.hold
	if b == nil {
		g.mu.Unlock()
		return
	}
	b.waiting++
	if b.waiting >= b.n {
		g.hold = nil
		b.once.Do(func() { close(b.open) })
	}
	g.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(time.Minute):
		g.mu.Lock()
		if g.hold == b {
			g.hold = nil
		}
		g.mu.Unlock()
		b.once.Do(func() { close(b.open) })
	}
}

func writeGlue(w http.ResponseWriter, out map[string]any, gerr *glueError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if gerr != nil {
		w.Header().Set("X-Amzn-ErrorType", gerr.code)
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": gerr.code, "Message": gerr.msg})
		return
	}
	if out == nil {
		out = map[string]any{}
	}
	json.NewEncoder(w).Encode(out)
}

func str(in map[string]any, key string) string {
	s, _ := in[key].(string)
	return s
}

func obj(in map[string]any, key string) map[string]any {
	m, _ := in[key].(map[string]any)
	return m
}

func now() json.Number {
	return json.Number(strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64))
}

// serve runs one operation; g.mu is held.
func (g *Glue) serve(op string, in map[string]any) (map[string]any, *glueError) {
	switch op {
	case "CreateDatabase":
		di := obj(in, "DatabaseInput")
		name := str(di, "Name")
		if name == "" {
			return nil, errorf("InvalidInputException", "DatabaseInput.Name is required")
		}
		if _, ok := g.dbs[name]; ok {
			return nil, errorf("AlreadyExistsException", "Database %s already exists.", name)
		}
		db := maps.Clone(di)
		db["CreateTime"] = now()
		db["CatalogId"] = "123456789012"
		g.dbs[name] = db
		return nil, nil
	case "GetDatabase":
		db, ok := g.dbs[str(in, "Name")]
		if !ok {
			return nil, errorf("EntityNotFoundException", "Database %s not found.", str(in, "Name"))
		}
		return map[string]any{"Database": db}, nil
	case "GetDatabases":
		names := sortedKeys(g.dbs)
		list := make([]any, len(names))
		for i, n := range names {
			list[i] = g.dbs[n]
		}
		return map[string]any{"DatabaseList": list}, nil
	case "UpdateDatabase":
		name := str(in, "Name")
		old, ok := g.dbs[name]
		if !ok {
			return nil, errorf("EntityNotFoundException", "Database %s not found.", name)
		}
		db := maps.Clone(obj(in, "DatabaseInput"))
		db["Name"], db["CreateTime"], db["CatalogId"] = name, old["CreateTime"], old["CatalogId"]
		g.dbs[name] = db
		return nil, nil
	case "DeleteDatabase":
		name := str(in, "Name")
		if _, ok := g.dbs[name]; !ok {
			return nil, errorf("EntityNotFoundException", "Database %s not found.", name)
		}
		delete(g.dbs, name)
		for k := range g.tables {
			if strings.HasPrefix(k, name+"\x00") {
				delete(g.tables, k)
			}
		}
		return nil, nil
	case "CreateTable":
		db := str(in, "DatabaseName")
		ti := obj(in, "TableInput")
		name := str(ti, "Name")
		if _, ok := g.dbs[db]; !ok {
			return nil, errorf("EntityNotFoundException", "Database %s not found.", db)
		}
		if name == "" {
			return nil, errorf("InvalidInputException", "TableInput.Name is required")
		}
		if _, ok := g.tables[db+"\x00"+name]; ok {
			return nil, errorf("AlreadyExistsException", "Table already exists.")
		}
		tb := maps.Clone(ti)
		tb["DatabaseName"], tb["CatalogId"], tb["VersionId"] = db, "123456789012", "1"
		tb["CreateTime"], tb["UpdateTime"] = now(), now()
		g.tables[db+"\x00"+name] = tb
		return nil, nil
	case "GetTable":
		tb, gerr := g.table(str(in, "DatabaseName"), str(in, "Name"))
		if gerr != nil {
			return nil, gerr
		}
		return map[string]any{"Table": tb}, nil
	case "GetTables":
		db := str(in, "DatabaseName")
		if _, ok := g.dbs[db]; !ok {
			return nil, errorf("EntityNotFoundException", "Database %s not found.", db)
		}
		var list []any
		for _, k := range sortedKeys(g.tables) {
			if strings.HasPrefix(k, db+"\x00") {
				list = append(list, g.tables[k])
			}
		}
		if list == nil {
			list = []any{}
		}
		return map[string]any{"TableList": list}, nil
	case "UpdateTable":
		db := str(in, "DatabaseName")
		ti := obj(in, "TableInput")
		old, gerr := g.table(db, str(ti, "Name"))
		if gerr != nil {
			return nil, gerr
		}
		cur := str(old, "VersionId")
		if v, ok := in["VersionId"]; ok && v != nil && str(in, "VersionId") != cur {
			g.Conflicts.Add(1)
			return nil, errorf("ConcurrentModificationException",
				"Update table failed due to concurrent modifications: version %s is not the current version %s.", str(in, "VersionId"), cur)
		}
		n, _ := strconv.Atoi(cur)
		tb := maps.Clone(ti)
		tb["DatabaseName"], tb["CatalogId"], tb["VersionId"] = db, old["CatalogId"], strconv.Itoa(n+1)
		tb["CreateTime"], tb["UpdateTime"] = old["CreateTime"], now()
		g.tables[db+"\x00"+str(ti, "Name")] = tb
		g.Updates.Add(1)
		return nil, nil
	case "DeleteTable":
		db, name := str(in, "DatabaseName"), str(in, "Name")
		if _, gerr := g.table(db, name); gerr != nil {
			return nil, gerr
		}
		delete(g.tables, db+"\x00"+name)
		return nil, nil
	}
	return nil, errorf("UnknownOperationException", "operation %s is not served by the Glue stand-in", op)
}

func (g *Glue) table(db, name string) (map[string]any, *glueError) {
	if _, ok := g.dbs[db]; !ok {
		return nil, errorf("EntityNotFoundException", "Database %s not found.", db)
	}
	tb, ok := g.tables[db+"\x00"+name]
	if !ok {
		return nil, errorf("EntityNotFoundException", "Table %s not found.", name)
	}
	return tb, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
