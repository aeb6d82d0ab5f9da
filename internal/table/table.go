// Package table keeps the lake as an Apache Iceberg table: a catalog (SQLite
// in the warehouse folder by default, any iceberg-go catalog when injected),
// the table eventlake.events with its schema, partition spec and sort order,
// and exactly-once commits of landed batches, each recorded in its
// snapshot's summary. It writes the Parquet data files itself, under names
// derived from the batch and paths that stay below the table's location
// whatever an event type holds. Design and figures: docs/iceberg.md.
package table

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	itable "github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/eventlake/eventlake/internal/retry"
)

// Defaults of Options.
const (
	DefaultNamespace   = "eventlake"
	DefaultName        = "events"
	DefaultCatalogName = "eventlake"
	DefaultAttempts    = 20
	// CatalogFile is the SQLite catalog's file inside a folder warehouse.
	CatalogFile = "catalog.db"
)

// Options say which table to open. Zero values mean defaults.
type Options struct {
	// Warehouse is the folder the default catalog and the table live in: a
	// path or a file:///path URL. Required unless Catalog is set.
	Warehouse string
	// Catalog, if set, is used instead of the SQLite catalog in the
	// warehouse folder (Glue, REST, a shared SQL database: see
	// iceberg-go's catalog.Load). The caller keeps ownership: Close does
	// not close it.
	Catalog catalog.Catalog
	// Namespace and Name name the table: eventlake.events by default.
	Namespace, Name string
	// Hourly partitions a new table by hour(created_datetime) instead of
	// day(created_datetime). An existing table keeps its own spec.
	Hourly bool
	// Attempts bounds the commit attempts of one batch (DefaultAttempts):
	// each lost race against another writer costs one.
	Attempts int
	// MustExist opens only a table that exists, for readers: nothing is
	// created (no folder, catalog file, namespace or table), and a missing
	// one is ErrNoTable.
	MustExist bool
	// MaxStagedAge: CommitStaged refuses a batch whose data files were
	// written longer ago than this (DefaultMaxStagedAge if zero; negative:
	// no bound). It must be below DeleteOrphans' grace, which removes
	// uncommitted files once older than it: a committer must never commit
	// a file the sweep may be removing.
	MaxStagedAge time.Duration
}

// DefaultMaxStagedAge is Options.MaxStagedAge's default: 4 hours under
// DefaultOrphanGrace.
const DefaultMaxStagedAge = DefaultOrphanGrace - 4*time.Hour

// ErrNoTable: Options.MustExist and there is no such table.
var ErrNoTable = errors.New("table: no such table")

// Table is an open Iceberg table of events. It is safe for concurrent use;
// each Commit loads the table afresh.
type Table struct {
	cat      catalog.Catalog
	db       *sql.DB // the default catalog's database, closed by Close
	ident    itable.Identifier
	attempts int
	maxAge   time.Duration // Options.MaxStagedAge
}

// Open opens the table, creating the namespace and the table if absent
// (unless Options.MustExist). Several processes may open (and create) one
// table at once.
func Open(ctx context.Context, opts Options) (*Table, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.MaxStagedAge == 0 {
		opts.MaxStagedAge = DefaultMaxStagedAge
	}
	t := &Table{cat: opts.Catalog, ident: itable.Identifier{opts.Namespace, opts.Name}, attempts: opts.Attempts, maxAge: opts.MaxStagedAge}
	if t.cat == nil {
		if opts.MustExist {
			if err := catalogExists(opts.Warehouse); err != nil {
				return nil, err
			}
		}
		if err := t.openSQLite(opts.Warehouse); err != nil {
			return nil, err
		}
	}
	var tbl *itable.Table
	var err error
	if opts.MustExist {
		tbl, err = t.loadExisting(ctx)
	} else {
		tbl, err = t.ensure(ctx, opts.Hourly)
	}
	if err == nil {
		err = checkSchema(tbl.Schema())
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// SQLiteProps are the catalog.Load properties of the default catalog of a
// folder warehouse, for tools built on iceberg-go: SQLite in
// <warehouse>/catalog.db, tables under <warehouse>/<namespace>.db/<name>,
// catalog name "eventlake". PyIceberg opens the same catalog as
// type=sql, uri=sqlite:///<warehouse>/catalog.db, warehouse=file://<warehouse>.
func SQLiteProps(warehouse string) (iceberg.Properties, error) {
	dir, err := folder(warehouse)
	if err != nil {
		return nil, err
	}
	return iceberg.Properties{
		"type":                  "sql",
		sqlcat.DriverKey:        "sqlite",
		sqlcat.DialectKey:       string(sqlcat.SQLite),
		"uri":                   sqliteDSN(dir),
		"warehouse":             fileURL(dir),
		sqlcat.SchemaVersionKey: sqlcat.SchemaVersionV1,
	}, nil
}

// sqliteDSN is the modernc.org/sqlite data source of the catalog of a
// folder warehouse. WAL lets readers in while a process commits;
// busy_timeout makes a second writer wait instead of failing;
// _txlock=immediate takes the write lock at BEGIN, so a transaction never
// fails to upgrade a read lock (an SQLITE_BUSY that no timeout cures).
func sqliteDSN(dir string) string {
	return "file:" + filepath.Join(dir, CatalogFile) +
		"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

func fileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// openSQLite opens the SQLite catalog of a folder warehouse, creating the
// folder and the catalog's tables if absent. It does not read iceberg-go's
// configuration file (~/.iceberg-go.yaml), as catalog.Load would.
func (t *Table) openSQLite(warehouse string) error {
	props, err := SQLiteProps(warehouse)
	if err != nil {
		return err
	}
	dir, _ := folder(warehouse)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("table: warehouse: %w", err)
	}
	db, err := sql.Open("sqlite", props["uri"])
	if err != nil {
		return fmt.Errorf("table: open %s: %w", filepath.Join(dir, CatalogFile), err)
	}
	// Setting the catalog up (its tables, if absent) can meet SQLite's
	// "database is locked" while other processes commit, even with the busy
	// timeout (seen under -race with a committing writer): wait it out a
	// few times.
	var cat *sqlcat.Catalog
	for attempt := 0; ; attempt++ {
		cat, err = sqlcat.NewCatalog(DefaultCatalogName, db, sqlcat.SQLite, props)
		if err == nil || attempt == 4 || !sqliteBusy(err) {
			break
		}
		if werr := retry.Wait(context.Background(), attempt); werr != nil {
			break
		}
	}
	if err != nil {
		db.Close()
		return fmt.Errorf("table: SQLite catalog %s: %w", filepath.Join(dir, CatalogFile), err)
	}
	t.cat, t.db = cat, db
	return nil
}

// sqliteBusy: err is SQLite's SQLITE_BUSY ("database is locked").
func sqliteBusy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}

// folder reads a warehouse given as a path or a file:// URL, made absolute.
func folder(warehouse string) (string, error) {
	if warehouse == "" {
		return "", errors.New("table: no warehouse folder and no catalog")
	}
	dir := warehouse
	if strings.Contains(warehouse, "://") {
		u, err := url.Parse(warehouse)
		if err != nil {
			return "", fmt.Errorf("table: warehouse %q: %w", warehouse, err)
		}
		if u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" {
			return "", fmt.Errorf("table: warehouse %q: want a folder or file:///path (other warehouses need an injected catalog)", warehouse)
		}
		dir = u.Path
	}
	if strings.ContainsAny(dir, "?#") {
		return "", fmt.Errorf("table: warehouse %q: a folder name with '?' or '#' cannot be in the catalog's data source", warehouse)
	}
	return filepath.Abs(dir)
}

// ensure loads the table, creating the namespace and the table first if
// they are absent. A concurrent creator's win is not an error.
func (t *Table) ensure(ctx context.Context, hourly bool) (*itable.Table, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err == nil {
		return tbl, nil
	}
	if !errors.Is(err, catalog.ErrNoSuchTable) && !errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil, fmt.Errorf("table: load %s: %w", t.name(), err)
	}
	ns := itable.Identifier{t.ident[0]}
	// Only an absent namespace is created: a role that may read a
	// provisioned Glue database but not create one can still open the table.
	if ok, err := t.cat.CheckNamespaceExists(ctx, ns); err != nil || !ok {
		if err := t.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return nil, fmt.Errorf("table: create namespace %s: %w", ns[0], err)
		}
	}
	sc, spec, order := Definition(hourly)
	tbl, err = t.cat.CreateTable(ctx, t.ident, sc,
		catalog.WithPartitionSpec(&spec), catalog.WithSortOrder(order), catalog.WithProperties(Properties()))
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		tbl, err = t.cat.LoadTable(ctx, t.ident)
	}
	if err != nil {
		return nil, fmt.Errorf("table: create %s: %w", t.name(), err)
	}
	return tbl, nil
}

// catalogExists says whether a folder warehouse has its catalog file.
func catalogExists(warehouse string) error {
	dir, err := folder(warehouse)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, CatalogFile)); err != nil {
		return fmt.Errorf("%w: %s has no Iceberg catalog (%s)", ErrNoTable, dir, CatalogFile)
	}
	return nil
}

// loadExisting loads the table without creating anything.
func (t *Table) loadExisting(ctx context.Context) (*itable.Table, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil, fmt.Errorf("%w: the catalog has no table %s", ErrNoTable, t.name())
	}
	if err != nil {
		return nil, fmt.Errorf("table: load %s: %w", t.name(), err)
	}
	return tbl, nil
}

// Close releases the catalog if Open opened it.
func (t *Table) Close() error {
	if t.db == nil {
		return nil
	}
	err := t.cat.(catalog.Closer).Close()
	return errors.Join(err, t.db.Close())
}

// Load returns the table's current state from the catalog, for readers
// (scans, inspection) and tests.
func (t *Table) Load(ctx context.Context) (*itable.Table, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return nil, fmt.Errorf("table: load %s: %w", t.name(), err)
	}
	return tbl, nil
}

func (t *Table) name() string { return strings.Join(t.ident, ".") }
