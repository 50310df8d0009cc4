package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// errNoHeader is returned for an empty CSV file.
var errNoHeader = errors.New("no header row (fix: make the first row the CSV header)")

// columns finds CSV columns by header name, case-insensitively.
type columns struct {
	index map[string]int
	names []string
}

func newColumns(header []string) columns {
	c := columns{index: make(map[string]int, len(header)), names: header}
	for i, name := range header {
		key := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if _, dup := c.index[key]; !dup {
			c.index[key] = i
		}
	}
	return c
}

func (c columns) has(name string) bool {
	_, ok := c.index[name]
	return ok
}

// column is one located column: its index (-1 when absent) and its header
// as spelt in the file, for error messages.
type column struct {
	Index int
	Name  string
}

// find returns the first of the aliases present in the header.
func (c columns) find(aliases ...string) column {
	for _, alias := range aliases {
		if i, ok := c.index[strings.ToLower(alias)]; ok {
			return column{Index: i, Name: strings.TrimSpace(strings.TrimPrefix(c.names[i], "\ufeff"))}
		}
	}
	return column{Index: -1, Name: aliases[0]}
}

// value returns the trimmed cell of the column, or "" when the column is
// absent or the record is short.
func (col column) value(record []string) string {
	if col.Index < 0 || col.Index >= len(record) {
		return ""
	}
	return strings.TrimSpace(record[col.Index])
}

// csvRow is one CSV record and the line it starts on.
type csvRow struct {
	Line   int
	Record []string
}

// readCSV reads the header and the records after it. Records the CSV reader
// rejects, such as a field with an unbalanced quote, become RowErrors.
func readCSV(name string, data []byte) (columns, []csvRow, []RowError, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	reader := csv.NewReader(bytes.NewReader(data))
	reader.FieldsPerRecord = -1

	header, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return columns{}, nil, nil, errNoHeader
	}
	if err != nil {
		return columns{}, nil, nil, withFix(err, "make the first row the CSV header")
	}

	var rows []csvRow
	var rowErrs []RowError
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			rowErrs = append(rowErrs, rowError(origin{File: name, Line: parseErr.StartLine}, "", "", parseErr.Err,
				"quote fields that contain commas, quotes or line breaks, and double any quote inside them"))
			continue
		}
		if err != nil {
			return columns{}, nil, nil, err
		}
		line, _ := reader.FieldPos(0)
		rows = append(rows, csvRow{Line: line, Record: record})
	}
	return newColumns(header), rows, rowErrs, nil
}

// isBlank reports whether every cell of the record is empty.
func isBlank(record []string) bool {
	for _, cell := range record {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}
