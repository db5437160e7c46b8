"""``/api/users``: list, read, create."""

from flask import Blueprint, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shopcommon import APIError, db
from shopcommon.resources import read_routes
from shopcommon.validation import Fields, json_body
from users.models import User

bp = Blueprint("users", __name__, url_prefix="/api/users")
read_routes(bp, User, "user")  # GET /api/users (a page), GET /api/users/<id>


def _duplicate_email(email: str) -> APIError:
    return APIError(409, "duplicate_email", f"a user with email {email} already exists",
                    {"email": "is already registered"})


@bp.post("")
def create_user():
    fields = Fields(json_body())
    name = fields.text("name")
    email = fields.email("email")
    fields.check()
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise _duplicate_email(email)
    user = User(name=name, email=email)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # a concurrent request registered the same email between our check and our insert
        db.session.rollback()
        raise _duplicate_email(email) from None
    return user.to_dict(), 201, {"Location": url_for("users.get_user", user_id=user.id)}
