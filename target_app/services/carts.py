"""Carts: create, view, add and remove items."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from target_app.errors import Conflict, NotFound
from target_app.models import Cart, CartItem, Product, User


def create_cart(session: Session, *, user_id: int) -> Cart:
    """Create an empty cart for an existing user."""
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    cart = Cart(user_id=user_id)
    session.add(cart)
    session.commit()
    return cart


def get_cart(session: Session, *, cart_id: int, owner_id: int) -> Cart:
    """Return one of the owner's carts or raise NotFound (another's cart is not found either)."""
    cart = session.get(Cart, cart_id)
    if cart is None or cart.user_id != owner_id:
        raise NotFound(f"cart {cart_id} not found")
    return cart


def _open_cart(session: Session, cart_id: int, owner_id: int) -> Cart:
    # Locked: a checkout of this cart waits for, or is waited on by, this change.
    cart = session.get(Cart, cart_id, with_for_update=True)
    if cart is None or cart.user_id != owner_id:
        session.rollback()
        raise NotFound(f"cart {cart_id} not found")
    if cart.checked_out_at is not None:
        raise Conflict(f"cart {cart_id} is already checked out")
    return cart


def add_item(
    session: Session, *, cart_id: int, owner_id: int, product_id: int, quantity: int
) -> Cart:
    """Add `quantity` units of a product; adding it again raises the quantity."""
    cart = _open_cart(session, cart_id, owner_id)
    if session.get(Product, product_id) is None:
        raise NotFound(f"product {product_id} not found")
    # One statement, so two concurrent adds of the same product both count.
    upsert = insert(CartItem).values(cart_id=cart_id, product_id=product_id, quantity=quantity)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[CartItem.cart_id, CartItem.product_id],
            set_={"quantity": CartItem.quantity + upsert.excluded.quantity},
        )
    )
    session.commit()
    session.refresh(cart)
    return cart


def remove_item(session: Session, *, cart_id: int, owner_id: int, product_id: int) -> Cart:
    """Remove a product from the cart."""
    cart = _open_cart(session, cart_id, owner_id)
    item = next((i for i in cart.items if i.product_id == product_id), None)
    if item is None:
        raise NotFound(f"product {product_id} is not in cart {cart_id}")
    cart.items.remove(item)
    session.commit()
    return cart
