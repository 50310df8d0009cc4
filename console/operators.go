package console

import (
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// adminOnly wraps a handler that only the shop's admins may use.
func (c *Console) adminOnly(next func(http.ResponseWriter, *http.Request, *postgres.OperatorSession)) http.HandlerFunc {
	return c.authed(func(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
		if s.Operator.Role != postgres.OperatorRoleAdmin {
			c.writeError(w, r, salesagent.Errorf(salesagent.EFORBIDDEN, "only a shop admin can manage operators: ask one of your shop's admins"))
			return
		}
		next(w, r, s)
	})
}

func (c *Console) handleListOperators(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	ops, err := c.db.ListOperators(r.Context(), s.Operator.ShopID)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"operators": ops})
}

type newOperatorRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (c *Console) handleAddOperator(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	var req newOperatorRequest
	if err := decodeBody(r, &req); err != nil {
		c.writeError(w, r, err)
		return
	}
	email, name, role, err := checkNewOperator(req)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	op, err := c.db.CreateOperator(r.Context(), s.Operator.ShopID, email, name, role, hash)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "operator added", "shop_id", s.Operator.ShopID, "operator_id", op.ID, "role", role, "by_operator_id", s.Operator.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"operator": op})
}

// checkNewOperator validates a new operator's email, name and role, and
// returns them cleaned up. An empty role means operator.
func checkNewOperator(req newOperatorRequest) (email, name, role string, err error) {
	email, name, role = strings.TrimSpace(req.Email), strings.TrimSpace(req.Name), strings.TrimSpace(req.Role)
	if addr, parseErr := mail.ParseAddress(email); parseErr != nil || addr.Address != email {
		return "", "", "", salesagent.Errorf(salesagent.EINVALID, "invalid email %q: use a plain address such as ana@example.com", req.Email)
	}
	if name == "" || len([]rune(name)) > 80 {
		return "", "", "", salesagent.Errorf(salesagent.EINVALID, "invalid name %q: give the name shoppers see, 1 to 80 characters", req.Name)
	}
	switch role {
	case "":
		role = postgres.OperatorRoleOperator
	case postgres.OperatorRoleOperator, postgres.OperatorRoleAdmin:
	default:
		return "", "", "", salesagent.Errorf(salesagent.EINVALID, "invalid role %q: use %q or %q", req.Role, postgres.OperatorRoleOperator, postgres.OperatorRoleAdmin)
	}
	return email, name, role, nil
}

func (c *Console) handleDeleteOperator(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		c.writeError(w, r, salesagent.Errorf(salesagent.EINVALID, "invalid operator id %q: use the numeric id from the operator list", raw))
		return
	}
	if id == s.Operator.ID {
		c.writeError(w, r, salesagent.Errorf(salesagent.EINVALID, "you cannot remove your own account: ask another admin"))
		return
	}
	if err := c.db.DeleteOperator(r.Context(), s.Operator.ShopID, id, requeuedNotice, c.deliver); err != nil {
		c.writeError(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "operator removed", "shop_id", s.Operator.ShopID, "operator_id", id, "by_operator_id", s.Operator.ID)
	w.WriteHeader(http.StatusNoContent)
}
