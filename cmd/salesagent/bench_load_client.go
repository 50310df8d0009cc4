package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/salesagent/salesagent/internal/bench"
)

// With --client process, bench load runs the shoppers and the fake LLM in
// a child process, so that the server's CPU, memory, garbage collection
// and scheduler are its own. The two processes talk in JSON lines:
//
//  1. the child starts the fake LLM and prints shoppersReady;
//  2. the parent starts the server against that LLM and writes
//     shoppersStart to the child's standard input;
//  3. the child runs the shoppers and prints shoppersDone.

// shoppersReady is the child's first line.
type shoppersReady struct {
	FakeURL string `json:"fake_url"`
}

// shoppersStart is the parent's line to the child: the server and its shop.
type shoppersStart struct {
	ServerURL string `json:"server_url"`
	ShopKey   string `json:"shop_key"`
	PageURL   string `json:"page_url"`
}

// shoppersDone is the child's last line: the record of the load, what
// the fake LLM saw, and the child's own resource use. The parent analyses
// them, since a report's summaries are written in milliseconds and not
// read back.
type shoppersDone struct {
	Started     time.Time           `json:"started"`
	Ended       time.Time           `json:"ended"`
	Connected   int                 `json:"connected"`
	Turns       []bench.TurnResult  `json:"turns"`
	Requests    []bench.FakeRequest `json:"requests"`
	Connections int64               `json:"llm_connections"`
	Process     processUsage        `json:"process"`
}

// result returns the load's record as RunLoad returned it in the child.
func (d shoppersDone) result(load bench.LoadConfig) *bench.LoadResult {
	return &bench.LoadResult{Config: load, Started: d.Started, Ended: d.Ended, Connected: d.Connected, Turns: d.Turns}
}

// runShoppers is the child's side: bench load --shoppers-only.
func runShoppers(ctx context.Context, cfg benchLoadConfig, stdin io.Reader, stdout io.Writer) error {
	// The shopper's end of each WebSocket and the fake's end of each LLM
	// stream.
	if _, err := bench.RaiseFileLimit(uint64(2*cfg.Load.Conversations + 1024)); err != nil {
		return err
	}
	fake, err := bench.StartFakeLLM(cfg.Fake)
	if err != nil {
		return err
	}
	defer fake.Close()

	enc := json.NewEncoder(stdout)
	if err := enc.Encode(shoppersReady{FakeURL: fake.URL}); err != nil {
		return fmt.Errorf("write the ready line: %w", err)
	}
	var start shoppersStart
	if err := json.NewDecoder(stdin).Decode(&start); errors.Is(err, io.EOF) {
		// The parent stopped before the load and reports its own error.
		return nil
	} else if err != nil {
		return fmt.Errorf("read the start line from the parent: %w", err)
	}

	load := cfg.Load
	load.ServerURL, load.ShopKey, load.PageURL = start.ServerURL, start.ShopKey, start.PageURL
	var result *bench.LoadResult
	usage, err := measureProcess(func() (time.Duration, error) {
		var err error
		result, err = bench.RunLoad(ctx, load)
		if err != nil {
			return 0, err
		}
		return result.Ended.Sub(result.Started), nil
	})
	if err != nil {
		return err
	}
	requests, _ := fake.Requests()
	done := shoppersDone{Started: result.Started, Ended: result.Ended, Connected: result.Connected, Turns: result.Turns,
		Requests: requests, Connections: fake.Connections(), Process: usage}
	if err := enc.Encode(done); err != nil {
		return fmt.Errorf("write the report line: %w", err)
	}

	// The fake LLM stays up until the parent closes stdin, which it does
	// after stopping the server, so turns cut short by --duration do not
	// end in broken streams.
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// shoppersProcess is the parent's handle on the child.
type shoppersProcess struct {
	*childProcess
	lines   *bufio.Scanner
	FakeURL string
}

// startShoppers starts the child with the load and fake LLM flags of args
// and waits for its fake LLM.
func startShoppers(args []string, stderr io.Writer) (*shoppersProcess, error) {
	child, err := startChild(append([]string{"bench", "load", "--shoppers-only"}, args...), stderr)
	if err != nil {
		return nil, err
	}

	p := &shoppersProcess{childProcess: child, lines: bufio.NewScanner(child.stdout)}
	p.lines.Buffer(nil, 64<<20)
	var ready shoppersReady
	if err := p.read(&ready); err != nil {
		p.Close()
		return nil, err
	}
	p.FakeURL = ready.FakeURL
	return p, nil
}

// read decodes the child's next line into v.
func (p *shoppersProcess) read(v any) error {
	if !p.lines.Scan() {
		return errors.New("the shoppers' process ended before its next line; its errors are above")
	}
	if err := json.Unmarshal(p.lines.Bytes(), v); err != nil {
		return fmt.Errorf("read the shoppers' process line %q: %w", p.lines.Text(), err)
	}
	return nil
}

// Run starts the shoppers against the server and waits for their report.
// When ctx ends first, it interrupts the child, which stops its shoppers
// and reports the turns so far, as an interrupted run in process does.
func (p *shoppersProcess) Run(ctx context.Context, start shoppersStart) (shoppersDone, error) {
	var done shoppersDone
	if err := json.NewEncoder(p.stdin).Encode(start); err != nil {
		return done, fmt.Errorf("start the shoppers: %w", err)
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			_ = p.cmd.Process.Signal(os.Interrupt)
		case <-finished:
		}
	}()
	err := p.read(&done)
	return done, err
}

// Close ends the child (see childProcess.stop).
func (p *shoppersProcess) Close() {
	p.stop()
}
