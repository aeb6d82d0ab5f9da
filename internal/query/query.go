// Package query runs SQL over a local lake with DuckDB: a view "events"
// over the Hive partitions, NDJSON and Parquet alike, with partition
// pruning on the partition columns.
package query

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

// Result is a query's columns and rows.
type Result struct {
	Columns []string
	Rows    [][]any
}

// View is the SQL that defines "events" over the lake folder dir.
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
  format = 'newline_delimited', hive_partitioning = true, hive_types_autocast = false,
  columns = {event_uuid: 'VARCHAR', event_name: 'VARCHAR', event_subtype: 'VARCHAR', created_at: 'VARCHAR', created_datetime: 'TIMESTAMP'})`, quote(jsonGlob)))
		}
		if hasFiles(abs, ".parquet") {
			parts = append(parts, fmt.Sprintf(`SELECT * EXCLUDE (event) FROM read_parquet(%s, hive_partitioning = true, hive_types_autocast = false)`,
				quote(filepath.Join(abs, "event_type=*", "**", "*.parquet"))))
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("lake folder %s holds no event_type= partitions", dir)
	}
	return "CREATE VIEW events AS " + strings.Join(parts, "\nUNION ALL BY NAME\n"), nil
}

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

// Run runs q over the lake folder dir.
func Run(ctx context.Context, dir, q string) (*Result, error) {
	view, err := View(dir)
	if err != nil {
		return nil, err
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
