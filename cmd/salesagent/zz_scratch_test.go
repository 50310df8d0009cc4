package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestZZScratchEval(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	var out, errOut bytes.Buffer
	err := runEval(context.Background(), append([]string{"--database-url", "postgres://salesagent:salesagent@127.0.0.1:5432/sa_eval_scratch", "--scenarios", "../../evals", "--demo-data", "../../demo/shop", "--log-level", "warn"}, strings.Fields(os.Getenv("SCRATCH_ARGS"))...), &out, &errOut)
	os.WriteFile("/tmp/eval_out.txt", out.Bytes(), 0o644)
	os.WriteFile("/tmp/eval_err.txt", errOut.Bytes(), 0o644)
	if err != nil {
		t.Fatal(err)
	}
}
