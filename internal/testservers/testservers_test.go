package testservers

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// TestKinesaliteSurvivesAbortedRequests: a client that sends half a request
// and hangs up (what a consumer cancelling an in-flight call does) must not
// kill the server; kinesalite alone dies of it ("Error: aborted").
func TestKinesaliteSurvivesAbortedRequests(t *testing.T) {
	Credentials(t)
	endpoint := Kinesalite(t)
	addr := strings.TrimPrefix(endpoint, "http://")
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"StreamName":"s","ShardCount":1}`
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.CreateStream\r\n"+
			"Content-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s", addr, len(body)+1000, body)
		time.Sleep(100 * time.Millisecond) // the server is now reading the body
		// Close with RST, as a cancelled call does.
		if err := c.(*net.TCPConn).SetLinger(0); err != nil {
			t.Fatal(err)
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
		if _, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
			t.Fatalf("after aborted request %d the server is gone: %v", i+1, err)
		}
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	api := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if _, err := api.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("after"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("the server does not answer after aborted requests: %v", err)
	}
	WaitActive(t, api, "after")
}
