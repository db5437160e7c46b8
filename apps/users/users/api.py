"""``/api/users``: list, read, create."""

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shopcommon import APIError, db
from shopcommon.api import BODY_REFUSALS, QUERY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.contract import NewUser, PageQuery, UserPage, UserPath
from shopcommon.contract import User as UserAnswer
from shopcommon.pagination import paginate
from shopcommon.resources import get_or_404
from users.models import User

bp = APIBlueprint("users", __name__, url_prefix="/api/users", abp_tags=[Tag(name="users")])


@bp.get("", operation_id="listUsers", responses={200: UserPage, **QUERY_REFUSALS})
def list_users(query: PageQuery):
    """A page of users, by id."""
    return paginate(select(User), User.to_dict, User.id, query)


@bp.get("/<id:user_id>", operation_id="getUser", responses={200: UserAnswer, **refused(404)})
def get_user(path: UserPath):
    """One user."""
    return get_or_404(User, path.user_id, "user").to_dict()


def _duplicate_email(email: str) -> APIError:
    return APIError(409, "duplicate_email", f"a user with email {email} already exists",
                    {"email": "is already registered"})


@bp.post("", operation_id="createUser", responses={201: UserAnswer, **BODY_REFUSALS, **refused(409)})
def create_user(body: NewUser):
    """Register a user.

    Each email once: a second is 409 `duplicate_email`.
    """
    if db.session.scalar(select(User.id).where(User.email == body.email)) is not None:
        raise _duplicate_email(body.email)
    user = User(name=body.name, email=body.email)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # a concurrent request registered the same email between our check and our insert
        db.session.rollback()
        raise _duplicate_email(body.email) from None
    return user.to_dict(), 201, {"Location": url_for("users.get_user", user_id=user.id)}
