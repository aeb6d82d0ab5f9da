package testservers

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

func glueClient(t *testing.T, g *Glue) *glue.Client {
	t.Helper()
	Credentials(t)
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return glue.NewFromConfig(cfg, func(o *glue.Options) { o.BaseEndpoint = aws.String(g.URL) })
}

func tableInput(location string) *types.TableInput {
	return &types.TableInput{
		Name: aws.String("events"), TableType: aws.String("EXTERNAL_TABLE"),
		Parameters:        map[string]string{"table_type": "ICEBERG", "metadata_location": location},
		StorageDescriptor: &types.StorageDescriptor{Location: aws.String("s3://b/w/db.db/events")},
	}
}

// TestGlueStandIn: the operations through the AWS SDK's own Glue client,
// with the error types the SDK decodes.
func TestGlueStandIn(t *testing.T) {
	g := NewGlue(t)
	api := glueClient(t, g)
	ctx := context.Background()
	_, err := api.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("db")})
	if !errors.As(err, new(*types.EntityNotFoundException)) {
		t.Fatalf("GetDatabase of a missing database: %v, want EntityNotFoundException", err)
	}
	if _, err := api.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{
		Name: aws.String("db"), Parameters: map[string]string{"k": "v"},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err = api.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}})
	if !errors.As(err, new(*types.AlreadyExistsException)) {
		t.Fatalf("CreateDatabase twice: %v, want AlreadyExistsException", err)
	}
	db, err := api.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("db")})
	if err != nil || aws.ToString(db.Database.Name) != "db" || db.Database.Parameters["k"] != "v" || db.Database.CreateTime == nil {
		t.Fatalf("GetDatabase: %+v, %v", db, err)
	}
	dbs, err := api.GetDatabases(ctx, &glue.GetDatabasesInput{})
	if err != nil || len(dbs.DatabaseList) != 1 {
		t.Fatalf("GetDatabases: %+v, %v", dbs, err)
	}

	_, err = api.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("nodb"), TableInput: tableInput("m0")})
	if !errors.As(err, new(*types.EntityNotFoundException)) {
		t.Fatalf("CreateTable in a missing database: %v, want EntityNotFoundException", err)
	}
	if _, err := api.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("m0")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("m0")})
	if !errors.As(err, new(*types.AlreadyExistsException)) {
		t.Fatalf("CreateTable twice: %v, want AlreadyExistsException", err)
	}
	get := func() *types.Table {
		t.Helper()
		out, err := api.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("db"), Name: aws.String("events")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Table
	}
	v1 := get()
	if aws.ToString(v1.VersionId) == "" || aws.ToString(v1.DatabaseName) != "db" || v1.Parameters["metadata_location"] != "m0" ||
		aws.ToString(v1.StorageDescriptor.Location) != "s3://b/w/db.db/events" {
		t.Fatalf("GetTable: %+v", v1)
	}

	// Compare-and-swap on VersionId.
	if _, err := api.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("m1"),
		VersionId: v1.VersionId, SkipArchive: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	v2 := get()
	if v2.Parameters["metadata_location"] != "m1" || aws.ToString(v2.VersionId) == aws.ToString(v1.VersionId) {
		t.Fatalf("after UpdateTable: %+v", v2)
	}
	_, err = api.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("stale"), VersionId: v1.VersionId})
	if !errors.As(err, new(*types.ConcurrentModificationException)) {
		t.Fatalf("UpdateTable with a stale VersionId: %v, want ConcurrentModificationException", err)
	}
	if got := get(); got.Parameters["metadata_location"] != "m1" || g.Conflicts.Load() != 1 {
		t.Fatalf("a refused update changed the table: %+v (conflicts %d)", got, g.Conflicts.Load())
	}
	// Without a VersionId the update is unconditional, as on AWS.
	if _, err := api.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("m2")}); err != nil {
		t.Fatal(err)
	}
	tables, err := api.GetTables(ctx, &glue.GetTablesInput{DatabaseName: aws.String("db")})
	if err != nil || len(tables.TableList) != 1 || tables.TableList[0].Parameters["metadata_location"] != "m2" {
		t.Fatalf("GetTables: %+v, %v", tables, err)
	}
	if _, err := api.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String("db"), Name: aws.String("events")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("db"), Name: aws.String("events")})
	if !errors.As(err, new(*types.EntityNotFoundException)) {
		t.Fatalf("GetTable after DeleteTable: %v, want EntityNotFoundException", err)
	}
	_, err = api.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String("db"), TableName: aws.String("events")})
	if err == nil {
		t.Fatal("an operation the stand-in does not serve succeeded")
	}
}

// TestGlueRacingUpdates: writers that read the same version and update at
// once: exactly one wins, every other gets ConcurrentModificationException.
func TestGlueRacingUpdates(t *testing.T) {
	g := NewGlue(t)
	api := glueClient(t, g)
	ctx := context.Background()
	if _, err := api.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: tableInput("m0")}); err != nil {
		t.Fatal(err)
	}
	out, err := api.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("db"), Name: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 4
	g.HoldUpdates(writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = api.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"),
				TableInput: tableInput("m" + string(rune('a'+i))), VersionId: out.Table.VersionId})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.As(err, new(*types.ConcurrentModificationException)):
			t.Errorf("writer %d: %v, want success or ConcurrentModificationException", i, err)
		}
	}
	if won != 1 || g.Conflicts.Load() != writers-1 {
		t.Fatalf("%d writers won, %d conflicts; want 1 and %d", won, g.Conflicts.Load(), writers-1)
	}
}
