# The two commands a newcomer needs: `make demo` and `make test`.

GO ?= go
BIN := bin/salesagent
DATABASE_URL ?= postgres://salesagent:salesagent@127.0.0.1:5432/salesagent
ADDR ?= 127.0.0.1:8080

export SALESAGENT_DATABASE_URL ?= $(DATABASE_URL)

.PHONY: demo test setup setup-test build

## demo: set up PostgreSQL, load the built-in demo shop and serve it on $(ADDR)
demo: setup build
	$(BIN) migrate
	$(BIN) ingest --shop demo --name "Northwind Outfitters" demo/shop
	$(BIN) shop --shop demo --synonyms demo/shop/synonyms.txt
	$(BIN) serve --addr $(ADDR)

## test: set up PostgreSQL and Chromium, then run every test and print the
## eval pass rates of the offline agent and of the LLM agent against a
## scripted fake OpenAI server
test: setup-test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -v -run 'TestEval(OfflineAgent|ScriptedLLM)$$' ./cmd/salesagent

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --browser

build:
	$(GO) build -o $(BIN) ./cmd/salesagent
