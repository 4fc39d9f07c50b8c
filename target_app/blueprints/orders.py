"""Orders: detail and a user's order history.

The `lazy_order_history` bug lives here, next to its fix: an N+1 in the history.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from spectree import Response
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload, selectinload

from target_app.accounts.guard import current_caller, requires_token
from target_app.api import api, errors
from target_app.blueprints.carts import order_out
from target_app.db import request_session
from target_app.errors import NotFound
from target_app.models import Order, User
from target_app.schemas import OrderOut, OrderPage, PageQuery

bp = Blueprint("orders", __name__)


@bp.get("/orders/<int:order_id>")
@requires_token()
@api.validate(resp=Response(HTTP_200=OrderOut, **errors(401, 404, 503)), tags=["orders"])
def get_order(order_id: int) -> OrderOut:
    """Show one of the caller's orders with its items and payment status."""
    order = request_session().get(Order, order_id)
    if order is None or order.user_id != current_caller().user_id:
        raise NotFound(f"order {order_id} not found")
    return order_out(order)


@bp.get("/users/<int:user_id>/orders")
@requires_token()
@api.validate(
    query=PageQuery, resp=Response(HTTP_200=OrderPage, **errors(401, 404, 503)), tags=["orders"]
)
def order_history(user_id: int) -> OrderPage:
    """List the caller's orders, newest first (another user's history is not found)."""
    query: PageQuery = request.context.query  # type: ignore[attr-defined]
    session = request_session()
    if user_id != current_caller().user_id or session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    total = session.scalar(select(func.count()).where(Order.user_id == user_id)) or 0
    if current_app.extensions["switches"].is_on("lazy_order_history"):
        # BUG: the items are left to load when the page is built, one SELECT per order.
        items = lazyload(Order.items)
    else:
        # FIX: one more SELECT loads every listed order's items (WHERE order_id IN (...)).
        items = selectinload(Order.items)
    orders = session.scalars(
        select(Order)
        .where(Order.user_id == user_id)
        .order_by(Order.id.desc())
        .offset((query.page - 1) * query.per_page)
        .limit(query.per_page)
        .options(items)
    ).all()
    return OrderPage(
        items=[order_out(o) for o in orders], page=query.page, per_page=query.per_page, total=total
    )
