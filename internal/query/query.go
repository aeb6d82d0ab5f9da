// Package query runs SQL over a local lake with DuckDB: a view "events"
// over the Hive partitions, NDJSON and Parquet alike, with partition
// pruning on the partition columns.
package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2" // also registers the "duckdb" driver

	"github.com/eventlake/eventlake/internal/lake"
)

// Result is a query's columns and rows.
type Result struct {
	Columns []string
	Rows    [][]any
}

// View is the SQL that defines "events" over the lake folder dir: the
// view events_objects over every stored object, events_compaction over
// the compaction manifests, and events, the rows readers should see
// (lake.ViewSQL, the same text as the Athena view).
func View(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", fmt.Errorf("lake folder %s: not a folder", dir)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	var parts []string
	jsonGlob := filepath.Join(abs, "event_type=*", "**", "*.jsonl*")
	if m, _ := filepath.Glob(filepath.Join(abs, "event_type=*")); len(m) > 0 {
		if hasFiles(abs, ".jsonl") {
			parts = append(parts, fmt.Sprintf(`SELECT * FROM read_json(%s,
  format = 'newline_delimited', hive_partitioning = true, hive_types_autocast = false, filename = true,
  columns = {event_uuid: 'VARCHAR', event_name: 'VARCHAR', event_subtype: 'VARCHAR', created_at: 'VARCHAR', created_datetime: 'TIMESTAMP'})`, quote(jsonGlob)))
		}
		if hasFiles(abs, ".parquet") {
			parts = append(parts, fmt.Sprintf(`SELECT * EXCLUDE (event) FROM read_parquet(%s, hive_partitioning = true, hive_types_autocast = false, filename = true)`,
				quote(filepath.Join(abs, "event_type=*", "**", "*.parquet"))))
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("lake folder %s holds no event_type= partitions", dir)
	}
	manifests := `SELECT NULL::VARCHAR AS folder, NULL::BIGINT AS seq, []::VARCHAR[] AS live_keys, []::VARCHAR[] AS superseded_keys WHERE false`
	mdir := filepath.Join(abs, filepath.FromSlash(lake.ManifestPrefix))
	if m, _ := filepath.Glob(filepath.Join(mdir, "event_type=*")); len(m) > 0 {
		manifests = fmt.Sprintf(`SELECT folder, seq, live_keys, superseded_keys FROM read_json(%s,
  format = 'newline_delimited', columns = {folder: 'VARCHAR', seq: 'BIGINT', live_keys: 'VARCHAR[]', superseded_keys: 'VARCHAR[]'})`,
			quote(filepath.Join(mdir, "**", "*.json")))
	}
	key := fmt.Sprintf("substr(replace(o.filename, '\\', '/'), %d)", len(filepath.ToSlash(abs))+2)
	return "CREATE VIEW events_objects AS " + strings.Join(parts, "\nUNION ALL BY NAME\n") + ";\n" +
		"CREATE VIEW events_compaction AS " + manifests + ";\n" +
		"CREATE VIEW events AS " + lake.ViewSQL("o.* EXCLUDE (filename)", "events_objects", "events_compaction", key) + ";\n", nil
}

// lockDown leaves the connection able to read files below root only, and
// locks its configuration.
func lockDown(ctx context.Context, conn *sql.Conn, root string) error {
	for _, stmt := range []string{
		"SET allowed_directories = [" + quoteSQL(root+string(filepath.Separator)) + "]",
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET lock_configuration = true",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("lock the query down (%s): %w", stmt, err)
		}
	}
	return nil
}

// oneSelect refuses q unless it is exactly one SELECT or EXPLAIN
// statement: no COPY, ATTACH, SET, INSTALL, CREATE, nor a second statement
// after a first.
func oneSelect(conn *sql.Conn, q string) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("query: unexpected driver connection %T", dc)
		}
		stmt, err := c.Prepare(q) // refuses several statements
		if err != nil {
			return fmt.Errorf("query: want one SELECT statement: %w", err)
		}
		defer stmt.Close()
		typ, err := stmt.(*duckdb.Stmt).StatementType()
		if err != nil {
			return err
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT && typ != duckdb.STATEMENT_TYPE_EXPLAIN {
			return errors.New("query: only a SELECT (or EXPLAIN) statement may run; --unrestricted allows others (COPY, ATTACH, SET ...)")
		}
		return nil
	})
}

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func hasFiles(root, ext string) bool {
	found := false
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipAll
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir // dead letters and temporary files are not events
		}
		if !d.IsDir() && strings.Contains(d.Name(), ext) && !strings.HasPrefix(d.Name(), ".") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// Options tune Run. The zero value is the locked-down default.
type Options struct {
	// Unrestricted lets the SQL reach every file and setting DuckDB can:
	// COPY ... TO any path, read_text('/etc/...'), ATTACH, INSTALL, SET.
	// For a trusted user at a terminal, never for SQL from elsewhere.
	Unrestricted bool
}

// Run runs q over the lake folder dir. Unless opts.Unrestricted, q must be
// one SELECT (or EXPLAIN) statement, and it can read only files below dir:
// DuckDB's external access is disabled with dir as the one allowed folder,
// and its configuration locked, so the SQL cannot open it up again. A nil
// opts means the defaults.
func Run(ctx context.Context, dir, q string, opts *Options) (*Result, error) {
	root, err := lakeRoot(dir)
	if err != nil {
		return nil, err
	}
	view, err := View(root)
	if err != nil {
		return nil, err
	}
	return run(ctx, root, view, q, opts)
}

// lakeRoot is the lake folder dir made absolute, links resolved: DuckDB
// checks the paths it opens, links resolved, against the allowed folder.
func lakeRoot(dir string) (string, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return "", fmt.Errorf("lake folder %s: not a folder (%v)", dir, err)
	}
	return root, nil
}

// run defines view and runs q on a new DuckDB database, locked down to the
// folder root unless opts.Unrestricted.
func run(ctx context.Context, root, view, q string, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, view); err != nil {
		return nil, fmt.Errorf("define the events view: %w", err)
	}
	if !opts.Unrestricted {
		if err := lockDown(ctx, conn, root); err != nil {
			return nil, err
		}
		if err := oneSelect(conn, q); err != nil {
			return nil, err
		}
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}
