package postgres_test

import (
	"context"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestDeleteShopCascades(t *testing.T) {
	db := pgtest.DB(t)
	ctx := context.Background()
	shop, _, err := db.EnsureShop(ctx, "delete-me", "Delete me")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertProducts(ctx, shop.ID, []salesagent.Product{{ExternalID: "p1", Handle: "p1", Title: "Hat"}}); err != nil {
		t.Fatal(err)
	}
	customer, err := db.CreateCustomer(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, []byte("visitor"), &customer.ID); err != nil {
		t.Fatal(err)
	}

	if err := db.DeleteShop(ctx, shop.ID); err != nil {
		t.Fatalf("delete shop: %v", err)
	}
	if _, err := db.ShopByID(ctx, shop.ID); salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("shop after delete: error %v, want not found", err)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM products WHERE shop_id = $1) + (SELECT count(*) FROM conversations WHERE shop_id = $1)`, shop.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d products and conversations of the deleted shop remain", left)
	}
}

func TestDeleteShopUnknown(t *testing.T) {
	err := pgtest.DB(t).DeleteShop(context.Background(), -1)
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("delete of an unknown shop: error %v, want not found", err)
	}
}
