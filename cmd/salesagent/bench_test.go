package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/salesagent/salesagent/postgres/pgtest"
)

// init lets this test binary act as the client process that bench
// sockets starts: with benchChildEnv set, it runs the command line it was
// given instead of the tests.
func init() {
	if os.Getenv(benchChildEnv) != "1" {
		return
	}
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "salesagent: %v\n", err)
		os.Exit(exitCode(err))
	}
	os.Exit(0)
}

// benchShops counts the shops whose slug marks them as throwaway benchmark
// shops.
func benchShops(t *testing.T) int {
	t.Helper()
	shops, err := pgtest.DB(t).ListShops(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, shop := range shops {
		if strings.HasPrefix(shop.Slug, "bench-") {
			n++
		}
	}
	return n
}

func TestBenchLoadSmoke(t *testing.T) {
	before := benchShops(t)
	stdout, stderr, err := runCommand(t, "bench", "load", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t),
		"--conversations", "3", "--turns", "2", "--ramp", "100ms", "--think", "10ms", "--duration", "1m",
		"--fake-ttft", "20ms", "--fake-tokens-per-sec", "500", "--fake-tokens", "5", "--json")
	if err != nil {
		t.Fatalf("bench load: %v\nstderr:\n%s", err, stderr)
	}

	var out benchLoadReport
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("bench load printed no JSON report: %v\n%s", err, stdout)
	}
	var raw struct {
		Report map[string]any `json:"report"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	r := out.Report
	if r.Connected != 3 {
		t.Errorf("connected = %d, want 3", r.Connected)
	}
	if r.TurnsSent != 6 || r.Replies != 6 {
		t.Errorf("%d turns sent and %d replied, want 6 and 6; errors %v", r.TurnsSent, r.Replies, r.Errors)
	}
	if len(r.Errors) != 0 || r.Cut != 0 {
		t.Errorf("errors %v and %d cut, want none", r.Errors, r.Cut)
	}
	if r.Matched != 6 {
		t.Errorf("%d turns matched to the fake LLM's requests, want 6", r.Matched)
	}
	for _, key := range []string{"ttft", "fake_ttft", "added", "before_llm", "after_first_token", "ack", "reply", "ttft_ratio"} {
		if _, ok := raw.Report[key]; !ok {
			t.Errorf("report has no %q", key)
		}
	}
	if ttft, ok := raw.Report["ttft"].(map[string]any); !ok || ttft["p99_ms"] == nil || ttft["count"] != 6.0 {
		t.Errorf("report.ttft = %v, want a summary of 6 turns in ms", raw.Report["ttft"])
	}
	if out.Process.CPUSeconds <= 0 || out.Process.PeakRSSMiB <= 0 {
		t.Errorf("process = %+v, want CPU time and RSS", out.Process)
	}
	if out.Settings.DatabasePoolConns < 1 {
		t.Errorf("settings = %+v, want the database pool size", out.Settings)
	}
	if out.Pool.Acquires < 6 || out.Pool.MaxConns != out.Settings.DatabasePoolConns {
		t.Errorf("db_pool = %+v, want at least one acquire per turn from a pool of %d", out.Pool, out.Settings.DatabasePoolConns)
	}
	if out.LLM.Requests != 6 || out.LLM.Connections < 1 || out.LLM.Connections > 6 {
		t.Errorf("llm = %+v, want 6 requests over 1 to 6 connections", out.LLM)
	}
	if after := benchShops(t); after != before {
		t.Errorf("%d benchmark shops after the run, %d before: the throwaway shop was kept", after, before)
	}
}

func TestBenchLoadClientProcess(t *testing.T) {
	stdout, stderr, err := runCommand(t, "bench", "load", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t), "--client", "process",
		"--conversations", "2", "--turns", "2", "--ramp", "100ms", "--think", "10ms", "--duration", "1m",
		"--fake-ttft", "20ms", "--fake-tokens-per-sec", "500", "--fake-tokens", "5", "--json")
	if err != nil {
		t.Fatalf("bench load --client process: %v\nstderr:\n%s", err, stderr)
	}

	var out benchLoadReport
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("bench load printed no JSON report: %v\n%s", err, stdout)
	}
	r := out.Report
	if r.TurnsSent != 4 || r.Replies != 4 || r.Matched != 4 || len(r.Errors) != 0 {
		t.Errorf("%d turns sent, %d replied, %d matched, errors %v; want 4, 4, 4 and none", r.TurnsSent, r.Replies, r.Matched, r.Errors)
	}
	if out.Client != "process" || out.Shoppers == nil {
		t.Fatalf("client %q with shoppers' process %+v, want the child's own usage", out.Client, out.Shoppers)
	}
	if out.Shoppers.CPUSeconds <= 0 || out.Shoppers.PeakRSSMiB <= 0 || out.Process.CPUSeconds <= 0 {
		t.Errorf("server %+v and shoppers %+v, want CPU time and RSS for both", out.Process, *out.Shoppers)
	}
	if out.LLM.Requests != 4 {
		t.Errorf("llm = %+v, want the child's fake LLM to count 4 requests", out.LLM)
	}
	// Summaries are written in milliseconds and not read back.
	var raw struct {
		Report map[string]any `json:"report"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ttft", "fake_ttft", "added"} {
		if s, _ := raw.Report[key].(map[string]any); s["count"] != 4.0 || s["p50_ms"] == nil || s["p50_ms"].(float64) <= 0 {
			t.Errorf("report.%s = %v, want 4 turns with a median above 0 ms", key, s)
		}
	}
}

func TestBenchLoadVariedMessages(t *testing.T) {
	stdout, stderr, err := runCommand(t, "bench", "load", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t), "--messages", "varied",
		"--conversations", "3", "--turns", "2", "--ramp", "100ms", "--think", "10ms", "--duration", "1m",
		"--fake-ttft", "20ms", "--fake-tokens-per-sec", "500", "--fake-tokens", "5", "--json")
	if err != nil {
		t.Fatalf("bench load --messages varied: %v\nstderr:\n%s", err, stderr)
	}
	var out benchLoadReport
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("bench load printed no JSON report: %v\n%s", err, stdout)
	}
	if out.Settings.Messages != "varied" {
		t.Errorf("settings.messages = %q, want varied", out.Settings.Messages)
	}
	if r := out.Report; r.Replies != 6 || r.Matched != 6 || len(r.Errors) != 0 {
		t.Errorf("%d replied, %d matched, errors %v; want 6, 6 and none", r.Replies, r.Matched, r.Errors)
	}
}

func TestBenchLoadTextReport(t *testing.T) {
	stdout, stderr, err := runCommand(t, "bench", "load", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t),
		"--conversations", "1", "--turns", "1", "--ramp", "0s", "--fake-ttft", "10ms", "--fake-tokens-per-sec", "500", "--fake-tokens", "3")
	if err != nil {
		t.Fatalf("bench load: %v\nstderr:\n%s", err, stderr)
	}
	for _, line := range []string{"connected            1 of 1", "TTFT, shopper", "TTFT, fake's own", "TTFT ratio", "added latency", "process", "database pool", "LLM connections      1 opened for 1 requests"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, stdout)
		}
	}
}

func TestBenchSocketsSmoke(t *testing.T) {
	before := benchShops(t)
	stdout, stderr, err := runCommand(t, "bench", "sockets", "--database-url", pgtest.URL(t), "--sockets", "20", "--parallel", "4", "--json")
	if err != nil {
		t.Fatalf("bench sockets: %v\nstderr:\n%s", err, stderr)
	}
	var r socketsReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("bench sockets printed no JSON report: %v\n%s", err, stdout)
	}
	if r.Opened != 20 || len(r.Failed) != 0 {
		t.Errorf("opened %d, failed %v; want 20 and none (first error %q)", r.Opened, r.Failed, r.FirstError)
	}
	if r.ServerOpen != 20 {
		t.Errorf("server counts %d open sockets, want 20", r.ServerOpen)
	}
	if r.Client != "process" || r.ClientRSSMiB <= 0 {
		t.Errorf("client %q with %v MiB, want a child process that reports its RSS", r.Client, r.ClientRSSMiB)
	}
	if r.RSSAfterMiB <= 0 || r.FileLimitAfter < 20 {
		t.Errorf("report = %+v, want RSS and the file limit", r)
	}
	if r.GoroutinesPer <= 0 {
		t.Errorf("goroutines per socket = %v, want the server's reader and writer counted", r.GoroutinesPer)
	}
	if after := benchShops(t); after != before {
		t.Errorf("%d benchmark shops after the run, %d before: the throwaway shop was kept", after, before)
	}
}

func TestBenchSocketsInProcess(t *testing.T) {
	stdout, stderr, err := runCommand(t, "bench", "sockets", "--database-url", pgtest.URL(t), "--sockets", "5", "--client", "inprocess")
	if err != nil {
		t.Fatalf("bench sockets: %v\nstderr:\n%s", err, stderr)
	}
	for _, line := range []string{"opened               5 in", "5 open on the server", "per connection", "same process"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, stdout)
		}
	}
}

func TestBenchWebhooksSmoke(t *testing.T) {
	before := benchShops(t)
	stdout, stderr, err := runCommand(t, "bench", "webhooks", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t),
		"--rate", "10", "--duration", "1s", "--shoppers", "3", "--grace", "30s", "--json")
	if err != nil {
		t.Fatalf("bench webhooks: %v\nstderr:\n%s", err, stderr)
	}

	var r webhookReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("bench webhooks printed no JSON report: %v\n%s", err, stdout)
	}
	if r.Sent != 10 || r.Statuses["200"] != 10 || len(r.Statuses) != 1 {
		t.Errorf("sent %d with statuses %v, want 10 with status 200", r.Sent, r.Statuses)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	ack, ok := raw["ack"].(map[string]any)
	if !ok || ack["count"] != 10.0 {
		t.Errorf("ack = %v, want a summary of 10 latencies", raw["ack"])
	}
	for _, key := range []string{"p50_ms", "p95_ms", "p99_ms", "max_ms"} {
		if ms, _ := ack[key].(float64); ms <= 0 {
			t.Errorf("ack[%q] = %v, want a positive latency in ms", key, ack[key])
		}
	}
	if r.AchievedRate <= 0 {
		t.Errorf("achieved rate %v, want it measured", r.AchievedRate)
	}
	if r.Jobs.TurnsCompleted != 10 || r.Jobs.TurnsPending != 0 || r.Jobs.TurnsFailed != 0 {
		t.Errorf("turn jobs = %+v, want 10 completed", r.Jobs)
	}
	if r.Jobs.SendsCompleted < 10 || int64(r.Jobs.SendsCompleted) != r.GraphSends {
		t.Errorf("%d send jobs completed and %d messages reached the fake Graph API, want at least one per turn and equal counts", r.Jobs.SendsCompleted, r.GraphSends)
	}
	if r.Pool.Acquires < 10 || r.Pool.MaxConns < 1 {
		t.Errorf("db_pool = %+v, want at least one acquire per webhook", r.Pool)
	}

	var left int
	if err := pgtest.DB(t).Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind LIKE 'whatsapp_%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d WhatsApp jobs left in the database after the run, want none", left)
	}
	if after := benchShops(t); after != before {
		t.Errorf("%d benchmark shops after the run, %d before: the throwaway shop was kept", after, before)
	}
}

func TestBenchWebhooksTextReport(t *testing.T) {
	stdout, stderr, err := runCommand(t, "bench", "webhooks", "--database-url", pgtest.URL(t), "--shop-data", demoShopDir(t),
		"--rate", "5", "--duration", "400ms", "--grace", "0s")
	if err != nil {
		t.Fatalf("bench webhooks: %v\nstderr:\n%s", err, stderr)
	}
	for _, line := range []string{"requests             2 sent", "statuses             200 2", "ack ", "turn jobs", "send jobs", "fake Graph API", "database pool"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("report lacks %q:\n%s", line, stdout)
		}
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no mode":             {[]string{"bench"}, "missing bench mode"},
		"unknown mode":        {[]string{"bench", "soak"}, `unknown bench mode "soak"`},
		"zero conversations":  {[]string{"bench", "load", "--conversations", "0"}, "invalid number of conversations 0"},
		"zero fake rate":      {[]string{"bench", "load", "--fake-tokens-per-sec", "0"}, "invalid fake token rate"},
		"missing shop data":   {[]string{"bench", "load", "--shop-data", "no/such/dir"}, `shop data folder "no/such/dir" not found`},
		"bad client":          {[]string{"bench", "sockets", "--client", "thread"}, `invalid --client "thread"`},
		"bad load client":     {[]string{"bench", "load", "--client", "remote"}, `invalid --client "remote": use inprocess or process`},
		"bad load messages":   {[]string{"bench", "load", "--messages", "random"}, `invalid --messages "random": use scripted or varied`},
		"connect-only alone":  {[]string{"bench", "sockets", "--connect-only"}, "--connect-only needs --server URL"},
		"negative listeners":  {[]string{"bench", "sockets", "--listeners", "-1"}, "invalid --listeners -1"},
		"stray load argument": {[]string{"bench", "load", "extra"}, `unexpected argument "extra"`},
		"zero webhook rate":   {[]string{"bench", "webhooks", "--rate", "0"}, "invalid --rate 0"},
		"long webhook run":    {[]string{"bench", "webhooks", "--duration", "2m"}, "invalid --duration 2m0s"},
		"no shoppers":         {[]string{"bench", "webhooks", "--shoppers", "0"}, "invalid --shoppers 0"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, stderr, err := runCommand(t, c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2 for a usage error", exitCode(err))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q (stderr %q)", err, c.want, stderr)
			}
		})
	}
}

func TestBenchLoadHelpHidesChildFlag(t *testing.T) {
	_, stderr, err := runCommand(t, "bench", "load", "-h")
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("bench load -h: %v", err)
	}
	if !strings.Contains(stderr, "-conversations") {
		t.Errorf("help lacks -conversations:\n%s", stderr)
	}
	if strings.Contains(stderr, "shoppers-only") {
		t.Errorf("help shows the internal -shoppers-only flag:\n%s", stderr)
	}
}
