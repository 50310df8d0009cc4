package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/salesagent/salesagent"
)

// τ-bench stores each table as one JSON object keyed by id.
type tauProduct struct {
	Name      string          `json:"name"`
	ProductID string          `json:"product_id"`
	Variants  json.RawMessage `json:"variants"`
}

type tauVariant struct {
	ItemID    string          `json:"item_id"`
	Options   json.RawMessage `json:"options"`
	Available bool            `json:"available"`
	Price     json.Number     `json:"price"`
}

type tauUser struct {
	Name struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
	} `json:"name"`
	Email string `json:"email"`
}

type tauOrder struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Items   []struct {
		Name      string          `json:"name"`
		ProductID string          `json:"product_id"`
		ItemID    string          `json:"item_id"`
		Price     json.Number     `json:"price"`
		Options   json.RawMessage `json:"options"`
	} `json:"items"`
	Fulfillments []struct {
		TrackingIDs []string `json:"tracking_id"`
		ItemIDs     []string `json:"item_ids"`
	} `json:"fulfillments"`
}

// parseTauBenchFile parses products.json, users.json or orders.json,
// recognised by name or else by the keys of the first entry.
func parseTauBenchFile(name string, data []byte) (*Batch, []RowError, error) {
	kind := strings.TrimSuffix(strings.ToLower(name), ".json")
	if kind != "products" && kind != "users" && kind != "orders" {
		kind = sniffTauBench(data)
	}

	lines := newLineIndex(data)
	batch := &Batch{}
	var rowErrs []RowError
	var entry func(key string, raw json.RawMessage, at origin)
	switch kind {
	case "products":
		entry = func(key string, raw json.RawMessage, at origin) {
			p, errs := tauBenchProduct(key, raw, at)
			rowErrs = append(rowErrs, errs...)
			if p != nil {
				batch.addProduct(at, *p)
			}
		}
	case "users":
		entry = func(key string, raw json.RawMessage, at origin) {
			c, rowErr := tauBenchCustomer(key, raw, at)
			if rowErr != nil {
				rowErrs = append(rowErrs, *rowErr)
				return
			}
			batch.addCustomer(at, c)
		}
	case "orders":
		entry = func(key string, raw json.RawMessage, at origin) {
			o, rowErr := tauBenchOrder(key, raw, at)
			if rowErr != nil {
				rowErrs = append(rowErrs, *rowErr)
				return
			}
			batch.addOrder(at, o)
		}
	default:
		return nil, nil, errors.New("not τ-bench products, users or orders: expected an object of entries with product_id, email or order_id (fix: pass products.json, users.json or orders.json from the τ-bench retail data)")
	}

	err := eachObjectEntry(data, func(key string, raw json.RawMessage, offset int) {
		entry(key, raw, origin{File: name, Line: lines.valueLine(offset)})
	})
	if err != nil {
		return nil, nil, err
	}
	return batch, rowErrs, nil
}

// sniffTauBench names the τ-bench table from the first entry's keys.
func sniffTauBench(data []byte) string {
	kind := ""
	_ = eachObjectEntry(data, func(_ string, raw json.RawMessage, _ int) {
		if kind != "" {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			kind = "unknown"
			return
		}
		switch {
		case fields["product_id"] != nil:
			kind = "products"
		case fields["order_id"] != nil:
			kind = "orders"
		case fields["email"] != nil:
			kind = "users"
		default:
			kind = "unknown"
		}
	})
	return kind
}

// eachObjectEntry calls fn for each key of a top-level JSON object in file
// order, with the raw value and the byte offset where the value starts.
func eachObjectEntry(data []byte, fn func(key string, raw json.RawMessage, offset int)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := keyTok.(string)
		offset := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("entry %q: invalid JSON: %w", key, err)
		}
		fn(key, raw, offset)
	}
	return nil
}

// orderedOptions decodes an options object such as {"color": "blue",
// "size": "M"} keeping the key order, with names in title case.
func orderedOptions(raw json.RawMessage) ([]salesagent.Option, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var options []salesagent.Option
	err := eachObjectEntry(raw, func(key string, value json.RawMessage, _ int) {
		options = append(options, salesagent.Option{Name: titleCase(key), Value: jsonScalar(value)})
	})
	return options, err
}

// optionValues returns the values of options, for variant titles.
func optionValues(options []salesagent.Option) []string {
	values := make([]string, len(options))
	for i, o := range options {
		values[i] = o.Value
	}
	return values
}

// tauBenchProduct converts one product. Its variants are keyed by item id
// and carry no stock count, only an available flag.
func tauBenchProduct(key string, raw json.RawMessage, at origin) (*salesagent.Product, []RowError) {
	var tp tauProduct
	if err := json.Unmarshal(raw, &tp); err != nil {
		return nil, []RowError{rowError(at, key, "", err, "make each product an object with name, product_id and variants")}
	}
	id := tp.ProductID
	if id == "" {
		id = key
	}
	name := strings.TrimSpace(tp.Name)
	p := salesagent.Product{
		ExternalID:  id,
		Handle:      slugify(name + " " + id),
		Title:       name,
		ProductType: name,
	}

	var rowErrs []RowError
	err := eachObjectEntry(tp.Variants, func(itemKey string, rawVariant json.RawMessage, _ int) {
		field := "variants." + itemKey
		var tv tauVariant
		if err := json.Unmarshal(rawVariant, &tv); err != nil {
			rowErrs = append(rowErrs, rowError(at, field, "", err, "make each variant an object with item_id, options, available and price"))
			return
		}
		v, rowErr := tauBenchVariant(itemKey, tv, at, field)
		if rowErr != nil {
			rowErrs = append(rowErrs, *rowErr)
			return
		}
		p.Variants = append(p.Variants, v)
	})
	if err != nil {
		rowErrs = append(rowErrs, rowError(at, "variants", "", err, "make variants an object keyed by item id"))
	}
	return &p, rowErrs
}

// tauBenchVariant converts one variant.
func tauBenchVariant(itemKey string, tv tauVariant, at origin, field string) (salesagent.Variant, *RowError) {
	id := tv.ItemID
	if id == "" {
		id = itemKey
	}
	price, err := salesagent.ParseMoney(tv.Price.String())
	if err != nil {
		e := rowError(at, field+".price", tv.Price.String(), err, "write the price as a number such as 47.84")
		return salesagent.Variant{}, &e
	}
	options, err := orderedOptions(tv.Options)
	if err != nil {
		e := rowError(at, field+".options", "", err, `write options as an object such as {"color": "blue"}`)
		return salesagent.Variant{}, &e
	}
	return salesagent.Variant{
		ExternalID: id,
		SKU:        id,
		Title:      strings.Join(optionValues(options), " / "),
		Options:    options,
		Price:      price,
		Available:  tv.Available,
	}, nil
}

// tauBenchCustomer converts one user.
//
// TODO: addresses and payment methods are dropped because Customer has no
// fields for them.
func tauBenchCustomer(key string, raw json.RawMessage, at origin) (salesagent.Customer, *RowError) {
	var tu tauUser
	if err := json.Unmarshal(raw, &tu); err != nil {
		e := rowError(at, key, "", err, "make each user an object with name and email")
		return salesagent.Customer{}, &e
	}
	name := strings.TrimSpace(tu.Name.FirstName + " " + tu.Name.LastName)
	return salesagent.Customer{ExternalID: key, Email: strings.TrimSpace(tu.Email), Name: name}, nil
}

// tauBenchOrder converts one order. Every line has quantity 1, as in
// τ-bench, where buying two of an item lists it twice. The total is the sum
// of the lines. An order with a bad line is skipped whole so that no order
// is stored with items missing.
func tauBenchOrder(key string, raw json.RawMessage, at origin) (Order, *RowError) {
	var to tauOrder
	if err := json.Unmarshal(raw, &to); err != nil {
		e := rowError(at, key, "", err, "make each order an object with order_id, user_id, status, items and fulfillments")
		return Order{}, &e
	}
	number := to.OrderID
	if number == "" {
		number = key
	}

	o := Order{CustomerExternalID: to.UserID}
	o.Number = number
	o.Status = to.Status
	var total salesagent.Money
	for i, item := range to.Items {
		field := fmt.Sprintf("%s.items[%d]", number, i)
		price, err := salesagent.ParseMoney(item.Price.String())
		if err != nil {
			e := rowError(at, field+".price", item.Price.String(), err, "write the price as a number such as 47.84")
			return Order{}, &e
		}
		options, err := orderedOptions(item.Options)
		if err != nil {
			e := rowError(at, field+".options", "", err, `write options as an object such as {"color": "blue"}`)
			return Order{}, &e
		}
		o.Items = append(o.Items, salesagent.OrderItem{
			Name:      item.Name,
			SKU:       item.ItemID,
			ProductID: item.ProductID,
			Options:   options,
			Price:     price,
			Quantity:  1,
		})
		total += price
	}
	o.Total = &total

	for _, f := range to.Fulfillments {
		if f.TrackingIDs == nil {
			f.TrackingIDs = []string{}
		}
		o.Fulfillments = append(o.Fulfillments, salesagent.Fulfillment{
			TrackingIDs: f.TrackingIDs,
			ItemSKUs:    f.ItemIDs,
		})
	}
	return o, nil
}
