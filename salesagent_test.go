package salesagent

import "testing"

func TestParseMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Money{
		"34":        3400,
		"34.5":      3450,
		"1,299.99":  129999,
		"1,299":     129900,
		"12,50":     1250,
		"12,5":      1250,
		"$19.99":    1999,
		"-5.00":     -500,
		" 7 ":       700,
		".5":        50,
		"34.000000": 3400,
		"0":         0,
	} {
		got, err := ParseMoney(in)
		if err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "5.-3", "+1,2,3", "1,2,3", "1e3", "12.345", "1.2.3", "-", "$", ".", "12,", "99999999999999999999"} {
		if got, err := ParseMoney(in); err == nil {
			t.Errorf("ParseMoney(%q) = %d, want an error", in, got)
		}
	}
}
