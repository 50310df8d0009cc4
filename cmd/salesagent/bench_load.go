package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/internal/bench"
)

// benchMessages is the shoppers' script: product, sizing and policy
// questions of the kinds the demo shop answers.
var benchMessages = []string{
	"Do you have a waterproof rain jacket for hiking?",
	"What size should I get if I am 180 cm tall?",
	"How much does shipping cost?",
	"Is the merino crew warm enough for skiing?",
	"What is your return policy?",
	"Which trail shoes are good for wet rocks?",
	"Do you ship internationally?",
	"I need warm fleece joggers for the cabin",
}

// benchLoadConfig holds the flags of salesagent bench load.
type benchLoadConfig struct {
	Config
	Load       bench.LoadConfig
	Fake       bench.FakeLLMConfig
	ShopData   string
	JSON       bool
	CPUProfile string
	// Client is the process of the shoppers and the fake LLM:
	// "inprocess", the server's, or "process", a child process.
	Client string
	// ShoppersOnly makes this process the child that --client process
	// starts.
	ShoppersOnly bool
	// Messages names the shoppers' script: "scripted", benchMessages, or
	// "varied", bench.VariedMessages.
	Messages string
}

func parseBenchLoadFlags(args []string, stderr io.Writer) (benchLoadConfig, error) {
	var cfg benchLoadConfig
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg.Config)
	setBenchLogLevel(fs)
	fs.IntVar(&cfg.Load.Conversations, "conversations", 100, "number of simulated shoppers, each on its own WebSocket")
	fs.IntVar(&cfg.Load.Turns, "turns", 3, "messages each shopper sends, each after the reply to the last")
	fs.DurationVar(&cfg.Load.Ramp, "ramp", 10*time.Second, "time over which the shoppers' starts are spread evenly")
	fs.DurationVar(&cfg.Load.Duration, "duration", 3*time.Minute, "cap on the whole run; turns still waiting then are counted as cut")
	fs.DurationVar(&cfg.Load.Think, "think", 2*time.Second, "pause between a reply and the shopper's next message")
	fs.DurationVar(&cfg.Load.TurnTimeout, "turn-timeout", time.Minute, "longest wait for one reply")
	fs.DurationVar(&cfg.Fake.TTFT, "fake-ttft", 300*time.Millisecond, "the fake LLM's time to first token")
	fs.Float64Var(&cfg.Fake.TokensPerSecond, "fake-tokens-per-sec", 50, "the fake LLM's tokens per second after the first")
	fs.IntVar(&cfg.Fake.Tokens, "fake-tokens", 40, "tokens in each of the fake LLM's replies")

	fs.StringVar(&cfg.ShopData, "shop-data", "demo/shop", "folder of store files loaded into the throwaway shop")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the server's process during the load phase to this file, for go tool pprof")
	fs.StringVar(&cfg.Client, "client", "inprocess", "where the shoppers and the fake LLM run: inprocess, in the server's process, or process, in a child process so the server's CPU, memory and garbage collection are measured alone")
	fs.StringVar(&cfg.Messages, "messages", "scripted", "what the shoppers send: scripted, eight questions again and again, or varied, a different message for nearly every turn, as real shoppers write")
	// Not in the help: the flag makes this process the child that
	// --client process starts.
	fs.BoolVar(&cfg.ShoppersOnly, "shoppers-only", false, "")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent bench load [flags]\n\nRuns simulated shoppers over WebSockets against a server whose LLM is a local fake, and prints throughput, time to first token against the fake's own, added latency, errors, CPU and memory.")
		printDefaultsExcept(fs, stderr, "shoppers-only")
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}

	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Sprintf("unexpected argument %q: bench load takes flags only", fs.Arg(0))}
	}
	if cfg.Client != "inprocess" && cfg.Client != "process" {
		return cfg, usageError{fmt.Sprintf("invalid --client %q: use inprocess or process", cfg.Client)}
	}
	switch cfg.Messages {
	case "scripted":
		cfg.Load.Messages = benchMessages
	case "varied":
		cfg.Load.Messages = bench.VariedMessages(max(cfg.Load.Conversations*cfg.Load.Turns, 1), 1)
	default:
		return cfg, usageError{fmt.Sprintf("invalid --messages %q: use scripted or varied", cfg.Messages)}
	}
	if err := cfg.Load.Validate(); err != nil {
		return cfg, usageError{err.Error()}
	}
	if err := cfg.Fake.Validate(); err != nil {
		return cfg, usageError{err.Error()}
	}
	if !isDir(cfg.ShopData) {
		return cfg, usageError{fmt.Sprintf("shop data folder %q not found: run from the repository root or pass --shop-data DIR", cfg.ShopData)}
	}
	return cfg, nil
}

// runBenchLoad starts the fake LLM and the server, runs the shoppers and
// prints the report. Everything listens on 127.0.0.1 only.
func runBenchLoad(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseBenchLoadFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.ShoppersOnly {
		return runShoppers(ctx, cfg, stdin, stdout)
	}
	logger, err := newLogger(cfg.Config, stderr)
	if err != nil {
		return err
	}
	// With the shoppers in this process, each conversation holds four
	// descriptors here: the shopper's and the server's ends of its
	// WebSocket, and the two ends of its stream from the fake LLM. With
	// --client process, the server's ends alone.
	if _, err := bench.RaiseFileLimit(uint64(4*cfg.Load.Conversations + 1024)); err != nil {
		return err
	}

	db, err := openMigrated(ctx, cfg.Config, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, removeShop, err := newBenchShop(ctx, db, cfg.ShopData, logger)
	if err != nil {
		return err
	}
	defer removeShop()

	var shoppers *shoppersProcess
	var fake *bench.FakeLLM
	llmURL := ""
	if cfg.Client == "process" {
		if shoppers, err = startShoppers(args, stderr); err != nil {
			return err
		}
		defer shoppers.Close()
		llmURL = shoppers.FakeURL
	} else {
		if fake, err = bench.StartFakeLLM(cfg.Fake); err != nil {
			return err
		}
		defer fake.Close()
		llmURL = fake.URL
	}

	serverCfg := cfg.Config
	serverCfg.Models.LLM = agent.LLMConfig{BaseURL: llmURL, APIKey: "bench", Model: "bench-fake"}
	server, err := startBenchServer(ctx, serverCfg, 1, logger)
	if err != nil {
		return err
	}
	defer server.Close()

	load := cfg.Load
	load.ServerURL, load.ShopKey = server.URLs[0], shop.WidgetKey
	load.PageURL = server.URLs[0] + "/shop/" + shop.Slug
	report := benchLoadReport{Settings: newLoadSettings(cfg, server.app.db.Pool.Config().MaxConns), Client: cfg.Client}
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return err
	}
	poolBefore := bench.ReadPool(server.app.db.Pool)
	report.Process, err = measureProcess(func() (time.Duration, error) {
		if shoppers != nil {
			started := time.Now()
			done, err := shoppers.Run(ctx, shoppersStart{ServerURL: load.ServerURL, ShopKey: load.ShopKey, PageURL: load.PageURL})
			report.Report = done.result(load).Analyze(done.Requests)
			report.LLM, report.Shoppers = llmUsage{Requests: len(done.Requests), Connections: done.Connections}, &done.Process
			return time.Since(started), err
		}
		result, err := bench.RunLoad(ctx, load)
		if err != nil {
			return 0, err
		}
		requests, _ := fake.Requests()
		report.Report, report.LLM = result.Analyze(requests), llmUsage{Requests: len(requests), Connections: fake.Connections()}
		return result.Ended.Sub(result.Started), nil
	})
	if stopErr := stopProfile(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	report.Pool = bench.ReadPool(server.app.db.Pool).Since(poolBefore)

	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		report.write(stdout)
	}
	// An interrupted run still reports its turns, and fails, so that a
	// script does not take it for a whole one.
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: the report covers the turns before the interrupt: %w", ctx.Err())
	}
	return nil
}

// processUsage is a process's resource use during the load phase.
type processUsage struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	// Cores is CPU seconds per second of wall time.
	Cores         float64 `json:"cores"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	HeapLiveMiB   float64 `json:"heap_live_mib"`
	PeakGoroutine int     `json:"peak_goroutines"`
}

// measureProcess calls run while sampling this process's memory and
// goroutines every quarter second, and returns the process's resource use
// over the wall time that run reports.
func measureProcess(run func() (wall time.Duration, err error)) (processUsage, error) {
	var usage processUsage
	before, err := bench.ReadProcess()
	if err != nil {
		return usage, err
	}

	done := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		ticker := time.NewTicker(250 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
			}
			if s, err := bench.ReadProcess(); err == nil {
				usage.PeakRSSMiB = max(usage.PeakRSSMiB, mebibytes(s.RSS))
				usage.HeapLiveMiB = max(usage.HeapLiveMiB, mebibytes(s.HeapLive))
				usage.PeakGoroutine = max(usage.PeakGoroutine, s.Goroutines)
			}
		}
	})
	wall, err := run()
	close(done)
	sampler.Wait()
	if err != nil {
		return usage, err
	}

	after, err := bench.ReadProcess()
	if err != nil {
		return usage, err
	}
	usage.CPUSeconds = (after.CPU - before.CPU).Seconds()
	if wall > 0 {
		usage.Cores = usage.CPUSeconds / wall.Seconds()
	}
	usage.PeakRSSMiB = max(usage.PeakRSSMiB, mebibytes(after.RSS))
	return usage, nil
}

// loadSettings echoes the run's settings in the report.
type loadSettings struct {
	Conversations    int     `json:"conversations"`
	Turns            int     `json:"turns"`
	RampSeconds      float64 `json:"ramp_seconds"`
	ThinkSeconds     float64 `json:"think_seconds"`
	DurationSeconds  float64 `json:"duration_cap_seconds"`
	FakeTTFTMS       float64 `json:"fake_ttft_ms"`
	FakeTokensPerSec float64 `json:"fake_tokens_per_sec"`
	FakeTokens       int     `json:"fake_tokens"`
	Messages         string  `json:"messages"`
	// DatabasePoolConns is the server's pgx pool size, set by the
	// pool_max_conns parameter of --database-url.
	DatabasePoolConns int32 `json:"db_pool_max_conns"`
}

func newLoadSettings(cfg benchLoadConfig, poolConns int32) loadSettings {
	return loadSettings{DatabasePoolConns: poolConns, Messages: cfg.Messages,
		Conversations: cfg.Load.Conversations, Turns: cfg.Load.Turns,
		RampSeconds: cfg.Load.Ramp.Seconds(), ThinkSeconds: cfg.Load.Think.Seconds(), DurationSeconds: cfg.Load.Duration.Seconds(),
		FakeTTFTMS: bench.Milliseconds(cfg.Fake.TTFT), FakeTokensPerSec: cfg.Fake.TokensPerSecond, FakeTokens: cfg.Fake.Tokens,
	}
}

// benchLoadReport is the report of salesagent bench load.
type benchLoadReport struct {
	Settings loadSettings     `json:"settings"`
	Report   bench.LoadReport `json:"report"`
	// Client is the process of the shoppers and the fake LLM (see
	// benchLoadConfig). With "inprocess", Process covers them too.
	Client  string          `json:"client"`
	Process processUsage    `json:"process"`
	Pool    bench.PoolUsage `json:"db_pool"`
	LLM     llmUsage        `json:"llm"`
	// Shoppers is the child process's use with --client process.
	Shoppers *processUsage `json:"shoppers_process,omitempty"`
}

// llmUsage is the number of requests the fake LLM served and of the
// connections the server opened for them.
type llmUsage struct {
	Requests    int   `json:"requests"`
	Connections int64 `json:"connections"`
}

func (r benchLoadReport) write(w io.Writer) {
	s, rep := r.Settings, r.Report
	fmt.Fprintf(w, "salesagent bench load: %d conversations × %d turns (%s messages), ramp %gs, think %gs; fake LLM TTFT %g ms, %g tokens/s, %d tokens; database pool %d connections\n\n",
		s.Conversations, s.Turns, s.Messages, s.RampSeconds, s.ThinkSeconds, s.FakeTTFTMS, s.FakeTokensPerSec, s.FakeTokens, s.DatabasePoolConns)
	fmt.Fprintf(w, "connected            %d of %d\n", rep.Connected, rep.Conversations)
	fmt.Fprintf(w, "turns                %d sent, %d replied, %d cut short by --duration or an interrupt, errors: %s\n", rep.TurnsSent, rep.Replies, rep.Cut, errorCounts(rep.Errors))
	fmt.Fprintf(w, "throughput           %.1f turns/s over %.1f s\n", rep.TurnsPerSecond, rep.ElapsedSeconds)
	summaryLine(w, "TTFT, shopper", rep.TTFT)
	summaryLine(w, "TTFT, fake's own", rep.FakeTTFT)
	fmt.Fprintf(w, "%-20s mean %.3f  p50 %.3f  p99 %.3f  (%d matched turns)\n", "TTFT ratio", rep.TTFTRatio.Mean, rep.TTFTRatio.P50, rep.TTFTRatio.P99, rep.Matched)
	summaryLine(w, "added latency", rep.Added)
	summaryLine(w, "  before the LLM", rep.BeforeLLM)
	summaryLine(w, "  after 1st token", rep.AfterFirstToken)
	summaryLine(w, "ack", rep.Ack)
	summaryLine(w, "full reply", rep.Reply)
	if r.Shoppers != nil {
		usageLine(w, "server process", r.Process)
		usageLine(w, "shoppers process", *r.Shoppers)
		fmt.Fprintln(w, "(the shoppers and the fake LLM ran in a child process)")
	} else {
		usageLine(w, "process", r.Process)
		fmt.Fprintln(w, "(server, shoppers and fake LLM share the process, so CPU and memory cover all three)")
	}
	poolLine(w, r.Pool)
	fmt.Fprintf(w, "LLM connections      %d opened for %d requests\n", r.LLM.Connections, r.LLM.Requests)
}

func usageLine(w io.Writer, label string, p processUsage) {
	fmt.Fprintf(w, "%-20s %.1f CPU s (%.2f cores), peak RSS %.0f MiB, peak live heap %.0f MiB, peak goroutines %d\n",
		label, p.CPUSeconds, p.Cores, p.PeakRSSMiB, p.HeapLiveMiB, p.PeakGoroutine)
}

// poolLine prints how often the server waited for a database connection.
func poolLine(w io.Writer, u bench.PoolUsage) {
	fmt.Fprintf(w, "database pool        %d connections: %d acquires, %d waited for a free connection (mean wait %.2f ms, %.1f s in all)\n",
		u.MaxConns, u.Acquires, u.Waited, u.WaitMeanMS, u.WaitSeconds)
}

func summaryLine(w io.Writer, label string, s bench.Summary) {
	fmt.Fprintf(w, "%-20s p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (n=%d)\n", label,
		bench.Milliseconds(s.P50), bench.Milliseconds(s.P95), bench.Milliseconds(s.P99), bench.Milliseconds(s.Max), s.Count)
}

func errorCounts(errors map[string]int) string {
	if len(errors) == 0 {
		return "none"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(errors)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, errors[name]))
	}
	return strings.Join(parts, ", ")
}
