package postgres_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestReplaceSynonymsReplacesList(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	other := newShop(t, db)

	first := []salesagent.SynonymRule{
		{Line: 1, Inputs: []string{"tee", "t-shirt"}},
		{Line: 4, Inputs: []string{"lockset"}, Outputs: []string{"door knob", "handleset"}},
	}
	if err := db.ReplaceSynonyms(ctx, shop.ID, first); err != nil {
		t.Fatalf("ReplaceSynonyms(first): %v", err)
	}
	if err := db.ReplaceSynonyms(ctx, other.ID, first[:1]); err != nil {
		t.Fatalf("ReplaceSynonyms(other shop): %v", err)
	}
	got, err := db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	first[0].Outputs = []string{}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("ShopSynonyms after the first load = %+v, want %+v", got, first)
	}

	second := []salesagent.SynonymRule{{Line: 2, Inputs: []string{"sneakers", "trainers"}, Outputs: []string{}}}
	if err := db.ReplaceSynonyms(ctx, shop.ID, second); err != nil {
		t.Fatalf("ReplaceSynonyms(second): %v", err)
	}
	got, err = db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Errorf("ShopSynonyms after the second load = %+v, want only %+v", got, second)
	}

	if err := db.ReplaceSynonyms(ctx, shop.ID, nil); err != nil {
		t.Fatalf("ReplaceSynonyms(nil): %v", err)
	}
	if got, err := db.ShopSynonyms(ctx, shop.ID); err != nil || len(got) != 0 {
		t.Errorf("ShopSynonyms after clearing = %+v, %v, want none", got, err)
	}
	if got, err := db.ShopSynonyms(ctx, other.ID); err != nil || len(got) != 1 {
		t.Errorf("other shop's synonyms = %+v, %v, want its one rule untouched", got, err)
	}
}

func TestReplaceSynonymsRejectsStopWordTerm(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	earlier := []salesagent.SynonymRule{{Line: 1, Inputs: []string{"tee", "t-shirt"}, Outputs: []string{}}}
	if err := db.ReplaceSynonyms(ctx, shop.ID, earlier); err != nil {
		t.Fatal(err)
	}

	bad := []salesagent.SynonymRule{
		{Line: 3, Inputs: []string{"sneakers", "trainers"}},
		{Line: 7, Inputs: []string{"the"}, Outputs: []string{"door knob"}},
	}
	err := db.ReplaceSynonyms(ctx, shop.ID, bad)
	if err == nil {
		t.Fatal("ReplaceSynonyms accepted the term \"the\", which has no searchable word")
	}
	if code := salesagent.ErrorCode(err); code != salesagent.EINVALID {
		t.Errorf("error code = %s, want %s (%v)", code, salesagent.EINVALID, err)
	}
	if !strings.Contains(err.Error(), `line 7 "the"`) {
		t.Errorf("error %q does not name line 7 and its term", err)
	}
	if !strings.Contains(err.Error(), "remove those terms") {
		t.Errorf("error %q does not give the fix", err)
	}
	got, err := db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, earlier) {
		t.Errorf("ShopSynonyms after a rejected load = %+v, want the earlier list %+v", got, earlier)
	}
}

func TestReplaceSynonymsUnknownShop(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	err := db.ReplaceSynonyms(context.Background(), -1, []salesagent.SynonymRule{{Line: 1, Inputs: []string{"a1", "b1"}}})
	if code := salesagent.ErrorCode(err); code != salesagent.ENOTFOUND {
		t.Errorf("ReplaceSynonyms on a missing shop: code %s (%v), want %s", code, err, salesagent.ENOTFOUND)
	}
}
