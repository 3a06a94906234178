"""nc_py_api (the real client from PyPI) against a running authbridge, call for call.

One test per method of `nc.users` (`_UsersAPI`) and `nc.users_groups`
(`_UsersGroupsAPI`), and one per `UserInfo` property, each asserting what the
call did (read back through the same client where it can). Run by
`cargo test -p authbridge --test real_clients`, which starts the daemon and sets:

- AUTHBRIDGE_URL: the OCS API's base URL (http://127.0.0.1:PORT)
- AUTHBRIDGE_ADMIN, AUTHBRIDGE_SECRET: an admin's login and its login password
  or an app password (the suite runs once with each)
- AUTHBRIDGE_BIN (with AUTHBRIDGE_CONFIG, AUTHBRIDGE_DATA_DIR,
  AUTHBRIDGE_SOCKET): the CLI of the same installation, for app passwords
- AUTHBRIDGE_MAILDIR: the maildir the daemon's `[mail]` relay delivers to

What a test needs before its call (users, groups, memberships) is made with
plain OCS requests (form bodies, as the documents send them), so each test
fails only for the call it is about. Every test can run alone.

`xfail(strict=True)` marks a call that fails against authbridge today, with the
cause observed (a "client bug:" is nc_py_api's own): the suite stays green, and
fails as soon as such a call starts working (then the mark goes).
"""

import datetime
import email
import email.policy
import os
import pathlib
import struct
import subprocess
import time
import uuid

import nc_py_api
import pytest
import requests
from nc_py_api import NextcloudException, NextcloudExceptionNotFound

URL = os.environ.get("AUTHBRIDGE_URL", "")
ADMIN = os.environ.get("AUTHBRIDGE_ADMIN", "")
SECRET = os.environ.get("AUTHBRIDGE_SECRET", "")

# The synchronous `Nextcloud` class warns that it is deprecated (in favour of
# `AsyncNextcloud`, which sends the same requests); it is what scripts use.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def xfail(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


# --- setup and read-back without the client under test ---------------------


def raw(method, path, form=None, auth=None):
    """A plain OCS v1 request (JSON answer, form body); returns `data`, asserts success."""
    r = requests.request(
        method,
        f"{URL}/ocs/v1.php{path}",
        params={"format": "json"},
        data=form,
        auth=auth or (ADMIN, SECRET),
        headers={"OCS-APIRequest": "true"},
        timeout=60,
    )
    assert r.status_code == 200, f"{method} {path}: HTTP {r.status_code} {r.text}"
    meta = r.json()["ocs"]["meta"]
    assert meta["statuscode"] == 100, f"{method} {path}: {r.text}"
    return r.json()["ocs"]["data"]


def uid(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def password():
    return f"Pw-{uuid.uuid4().hex}-Aa1"


@pytest.fixture
def nc():
    assert URL and ADMIN and SECRET, "AUTHBRIDGE_URL, AUTHBRIDGE_ADMIN and AUTHBRIDGE_SECRET must be set"
    return nc_py_api.Nextcloud(nextcloud_url=URL, nc_auth_user=ADMIN, nc_auth_pass=SECRET)


@pytest.fixture
def made():
    """Creates users and groups over plain OCS; removes them after the test."""

    class Made:
        users = []
        groups = []

        def user(self, user_id=None, pw=None, email=None, groups=(), subadmin_of=()):
            user_id = user_id or uid()
            form = {"userid": user_id, "password": pw or password()}
            if email:
                form["email"] = email
            raw("POST", "/cloud/users", form)
            self.users.append(user_id)
            for g in groups:
                raw("POST", f"/cloud/users/{user_id}/groups", {"groupid": g})
            for g in subadmin_of:
                raw("POST", f"/cloud/users/{user_id}/subadmins", {"groupid": g})
            return user_id

        def group(self, group_id=None):
            group_id = group_id or uid("g")
            raw("POST", "/cloud/groups", {"groupid": group_id})
            self.groups.append(group_id)
            return group_id

    m = Made()
    yield m
    for u in m.users:
        requests.delete(f"{URL}/ocs/v1.php/cloud/users/{u}", auth=(ADMIN, SECRET), headers={"OCS-APIRequest": "true"})
    for g in m.groups:
        requests.delete(f"{URL}/ocs/v1.php/cloud/groups/{g}", auth=(ADMIN, SECRET), headers={"OCS-APIRequest": "true"})


def raw_user(user_id):
    return raw("GET", f"/cloud/users/{user_id}")


def cli(*args):
    binary = os.environ.get("AUTHBRIDGE_BIN")
    assert binary, "AUTHBRIDGE_BIN (and AUTHBRIDGE_CONFIG, _DATA_DIR, _SOCKET) must be set"
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"authbridge {args}: {out.stdout}{out.stderr}"
    return out.stdout


def app_password_of(user_id):
    """A new app password of `user_id`, made with the CLI."""
    out = cli("user", "auth-tokens", "add", "--name", "nc-py-api-test", user_id)
    return next(w for w in out.split() if len(w) == 29 and w.count("-") == 4)


def mails_to(address, at_least=1, wait=15.0):
    """The messages the relay delivered to `address`, waiting for `at_least` of them."""
    maildir = os.environ.get("AUTHBRIDGE_MAILDIR")
    assert maildir, "AUTHBRIDGE_MAILDIR must be set"
    deadline = time.monotonic() + wait
    while True:
        found = []
        new = pathlib.Path(maildir, "new")
        for f in sorted(new.iterdir()) if new.is_dir() else []:
            msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if address in str(msg.get("To", "")):
                found.append(msg)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def client_as(user_id, secret):
    return nc_py_api.Nextcloud(nextcloud_url=URL, nc_auth_user=user_id, nc_auth_pass=secret)


def png_size(data):
    """(width, height) from a PNG's IHDR; asserts the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: {data[:16]!r}"
    assert data[12:16] == b"IHDR", f"no IHDR first: {data[:32]!r}"
    return struct.unpack(">II", data[16:24])


# --- users: get_list ------------------------------------------------------------


def test_users_get_list_lists_every_user(nc, made):
    a, b = made.user(), made.user()
    listed = nc.users.get_list()
    assert {a, b, ADMIN} <= set(listed)


def test_users_get_list_with_mask(nc, made):
    prefix = uid("m")
    a, b = made.user(prefix + "a"), made.user(prefix + "b")
    made.user()
    assert sorted(nc.users.get_list(mask=prefix)) == [a, b]


def test_users_get_list_with_limit(nc, made):
    prefix = uid("m")
    for s in "abc":
        made.user(prefix + s)
    assert len(nc.users.get_list(mask=prefix, limit=2)) == 2


def test_users_get_list_with_offset(nc, made):
    prefix = uid("m")
    ids = [made.user(prefix + s) for s in "abc"]
    first = nc.users.get_list(mask=prefix, limit=1, offset=0)
    rest = nc.users.get_list(mask=prefix, offset=1)
    assert len(first) == 1 and len(rest) == 2
    assert sorted(first + rest) == ids


# --- users: get_user and UserInfo ---------------------------------------------------


def test_users_get_user(nc, made):
    g = made.group()
    user_id = made.user(email=f"{uid()}@example.org", groups=[g])
    info = nc.users.get_user(user_id)
    assert info.user_id == user_id
    assert info.display_name == user_id
    assert info.email == raw_user(user_id)["email"] != ""
    assert info.enabled is True
    assert info.groups == [g]


def test_users_get_user_own(nc):
    info = nc.users.get_user("")
    assert info.user_id == ADMIN
    assert "admin" in info.groups


def test_users_get_user_missing_is_not_found(nc):
    with pytest.raises(NextcloudExceptionNotFound):
        nc.users.get_user(uid("ghost"))


# Every UserInfo property of the seed, read from a user with an email, a group
# and a group they administer: (property, the type the seed gives it).
USER_INFO_PROPERTIES = [
    ("enabled", bool),
    ("storage_location", str),
    ("user_id", str),
    ("last_login", datetime.datetime),
    ("backend", str),
    ("subadmin", list),
    ("quota", dict),
    ("manager", str),
    ("email", str),
    ("additional_mail", list),
    ("display_name", str),
    ("phone", str),
    ("address", str),
    ("website", str),
    ("twitter", str),
    ("fediverse", str),
    ("organisation", str),
    ("role", str),
    ("headline", str),
    ("biography", str),
    ("profile_enabled", bool),
    ("groups", list),
    ("language", str),
    ("locale", str),
    ("notify_email", str),
    ("backend_capabilities", dict),
]


@pytest.mark.parametrize("prop,kind", USER_INFO_PROPERTIES)
def test_user_info_property_parses(nc, made, prop, kind):
    g = made.group()
    user_id = made.user(email=f"{uid()}@example.org", groups=[g], subadmin_of=[g])
    info = nc.users.get_user(user_id)
    value = getattr(info, prop)
    assert isinstance(value, kind), f"{prop} = {value!r}"
    if kind is list:
        assert all(isinstance(v, str) for v in value), f"{prop} = {value!r}"


def test_user_info_values(nc, made):
    g = made.group()
    user_id = made.user(email=f"{uid()}@example.org", groups=[g], subadmin_of=[g])
    info = nc.users.get_user(user_id)
    assert info.enabled is True
    assert info.subadmin == [g]
    assert info.groups == [g]
    assert "quota" in info.quota
    caps = info.backend_capabilities
    assert isinstance(caps["setDisplayName"], bool) and isinstance(caps["setPassword"], bool)
    assert info.last_login.tzinfo is not None


def test_user_info_last_login_is_set_by_a_login(nc):
    nc.users.get_user(ADMIN)  # a login
    info = nc.users.get_user(ADMIN)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now - datetime.timedelta(hours=1) < info.last_login <= now + datetime.timedelta(minutes=1)


# --- users: create ---------------------------------------------------------------


def created(made, user_id):
    made.users.append(user_id)
    return user_id


def test_users_create_with_password(nc, made):
    user_id, pw = created(made, uid()), password()
    nc.users.create(user_id, password=pw)
    assert user_id in nc.users.get_list(mask=user_id)
    # The new user logs in with that password.
    assert client_as(user_id, pw).users.get_user(user_id).user_id == user_id


def test_users_create_with_email_sends_the_welcome_mail(nc, made):
    user_id, address = created(made, uid()), f"{uid()}@example.org"
    nc.users.create(user_id, email=address)
    assert nc.users.get_user(user_id).email == address
    assert mails_to(address), f"no welcome mail to {address}"


def test_users_create_with_groups(nc, made):
    g1, g2 = made.group(), made.group()
    user_id = created(made, uid())
    nc.users.create(user_id, password=password(), groups=[g1, g2])
    assert sorted(nc.users.get_user(user_id).groups) == sorted([g1, g2])


def test_users_create_with_subadmin(nc, made):
    g = made.group()
    user_id = created(made, uid())
    nc.users.create(user_id, password=password(), subadmin=[g])
    assert nc.users.get_user(user_id).subadmin == [g]


def test_users_create_with_quota(nc, made):
    user_id = created(made, uid())
    nc.users.create(user_id, password=password(), quota="1 GB")
    quota = nc.users.get_user(user_id).quota["quota"]
    assert quota in (1073741824, "1073741824", "1 GB"), quota


def test_users_create_with_language(nc, made):
    user_id = created(made, uid())
    nc.users.create(user_id, password=password(), language="de")
    assert nc.users.get_user(user_id).language == "de"


def test_users_create_with_display_name(nc, made):
    user_id = created(made, uid())
    nc.users.create(user_id, display_name="Jürgen Example", password=password())
    assert nc.users.get_user(user_id).display_name == "Jürgen Example"


# --- users: delete, enable, disable, wipe, welcome ----------------------------------------


def test_users_delete(nc, made):
    user_id = made.user()
    nc.users.delete(user_id)
    assert user_id not in nc.users.get_list(mask=user_id)
    with pytest.raises(NextcloudExceptionNotFound):
        nc.users.get_user(user_id)


def test_users_disable(nc, made):
    user_id = made.user()
    nc.users.disable(user_id)
    assert nc.users.get_user(user_id).enabled is False


def test_users_enable(nc, made):
    user_id = made.user()
    raw("PUT", f"/cloud/users/{user_id}/disable")
    nc.users.enable(user_id)
    assert nc.users.get_user(user_id).enabled is True


def test_users_wipe_revokes_the_users_app_passwords(nc, made):
    pw = password()
    user_id = made.user(pw=pw)
    token = app_password_of(user_id)
    assert client_as(user_id, token).users.get_user(user_id).user_id == user_id
    nc.users.wipe(user_id)
    with pytest.raises(NextcloudException):
        client_as(user_id, token).users.get_user(user_id)


def test_users_resend_welcome_email(nc, made):
    address = f"{uid()}@example.org"
    user_id = made.user(email=address)
    before = len(mails_to(address, at_least=0, wait=0))
    nc.users.resend_welcome_email(user_id)
    assert len(mails_to(address, at_least=before + 1)) == before + 1


# --- users: editable_fields and edit -------------------------------------------------


def test_users_editable_fields(nc):
    fields = nc.users.editable_fields()
    assert isinstance(fields, list)
    # What today's Nextcloud lets an admin edit on a database user.
    assert {
        "displayname",
        "email",
        "additional_mail",
        "phone",
        "address",
        "website",
        "twitter",
        "fediverse",
        "organisation",
        "role",
        "headline",
        "biography",
        "profile_enabled",
    } <= set(fields)


# (key, value sent, how to read it back from a UserInfo).
EDITS = [
    ("displayname", "Änne Example", lambda i: i.display_name),
    ("email", "edited@example.org", lambda i: i.email),
    ("additional_mail", "extra@example.org", lambda i: "extra@example.org" in i.additional_mail),
    ("phone", "+4930123456", lambda i: i.phone),
    ("address", "Street 1, Berlin", lambda i: i.address),
    ("website", "https://example.org", lambda i: i.website),
    ("twitter", "example", lambda i: i.twitter),
    ("fediverse", "@alice@mastodon.example", lambda i: i.fediverse.lstrip("@") == "alice@mastodon.example"),
    ("organisation", "Example GmbH", lambda i: i.organisation),
    ("role", "Engineer", lambda i: i.role),
    ("headline", "Hello", lambda i: i.headline),
    ("biography", "A long story.", lambda i: i.biography),
    ("profile_enabled", "0", lambda i: i.profile_enabled is False),
    ("pronouns", "they/them", lambda i: i._raw_data.get("pronouns")),
    ("birthdate", "1990-05-17", lambda i: i._raw_data.get("birthdate")),
    ("quota", "2 GB", lambda i: i.quota["quota"] in (2147483648, "2147483648", "2 GB")),
    ("language", "fr", lambda i: i.language),
    ("locale", "fr_FR", lambda i: i.locale),
]

@pytest.mark.parametrize("key,value,read", EDITS, ids=[e[0] for e in EDITS])
def test_users_edit(nc, made, key, value, read):
    user_id = made.user()
    nc.users.edit(user_id, **{key: value})
    got = read(nc.users.get_user(user_id))
    assert got is True or got == value, f"{key}: {got!r}"


def test_users_edit_own_scope(made):
    # Nextcloud lets only the user set the scope of their own properties (an
    # admin editing another user's `phoneScope` is refused with OCS 113), and
    # shows the `*Scope` keys only in the user's own data.
    pw = password()
    user_id = made.user(pw=pw)
    me = client_as(user_id, pw)
    me.users.edit(user_id, phoneScope="v2-private")
    assert me.users.get_user("")._raw_data["phoneScope"] == "v2-private"


def test_users_edit_password(nc, made):
    user_id = made.user()
    pw = password()
    nc.users.edit(user_id, password=pw)
    assert client_as(user_id, pw).users.get_user(user_id).user_id == user_id


def test_users_edit_manager(nc, made):
    boss, user_id = made.user(), made.user()
    nc.users.edit(user_id, manager=boss)
    assert nc.users.get_user(user_id).manager == boss


def test_users_edit_notify_email(nc, made):
    address = f"{uid()}@example.org"
    user_id = made.user(email=address)
    nc.users.edit(user_id, notify_email=address)
    assert nc.users.get_user(user_id).notify_email == address


# --- users: groups and subadmins --------------------------------------------------




def test_users_add_to_group(nc, made):
    g, user_id = made.group(), made.user()
    nc.users.add_to_group(user_id, g)
    assert nc.users.get_user(user_id).groups == [g]


def test_users_remove_from_group(nc, made):
    g1, g2 = made.group(), made.group()
    user_id = made.user(groups=[g1, g2])
    nc.users.remove_from_group(user_id, g1)
    assert nc.users.get_user(user_id).groups == [g2]


def test_users_promote_to_subadmin(nc, made):
    g, user_id = made.group(), made.user()
    nc.users.promote_to_subadmin(user_id, g)
    assert nc.users.get_user(user_id).subadmin == [g]


def test_users_demote_from_subadmin(nc, made):
    g1, g2 = made.group(), made.group()
    user_id = made.user(subadmin_of=[g1, g2])
    nc.users.demote_from_subadmin(user_id, g1)
    assert nc.users.get_user(user_id).subadmin == [g2]


# --- users: get_avatar ----------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 512])
def test_users_get_avatar(nc, made, size):
    user_id = made.user()
    assert png_size(nc.users.get_avatar(user_id, size=size)) == (size, size)


def test_users_get_avatar_dark(nc, made):
    user_id = made.user()
    assert png_size(nc.users.get_avatar(user_id, size=64, dark=True)) == (64, 64)


def test_users_get_avatar_guest(nc):
    assert png_size(nc.users.get_avatar("Some Guest", size=64, guest=True)) == (64, 64)


def test_users_get_avatar_own(nc):
    assert png_size(nc.users.get_avatar(size=512)) == (512, 512)


# --- users_groups ---------------------------------------------------------------------------


def test_groups_get_list(nc, made):
    g1, g2 = made.group(), made.group()
    assert {g1, g2, "admin"} <= set(nc.users_groups.get_list())


def test_groups_get_list_with_mask(nc, made):
    prefix = uid("m")
    g1, g2 = made.group(prefix + "a"), made.group(prefix + "b")
    made.group()
    assert sorted(nc.users_groups.get_list(mask=prefix)) == [g1, g2]


def test_groups_get_list_with_limit_and_offset(nc, made):
    prefix = uid("m")
    ids = [made.group(prefix + s) for s in "abc"]
    first = nc.users_groups.get_list(mask=prefix, limit=2)
    rest = nc.users_groups.get_list(mask=prefix, offset=2)
    assert len(first) == 2 and len(rest) == 1
    assert sorted(first + rest) == ids


def test_groups_get_details(nc, made):
    g = made.group()
    made.user(groups=[g])
    made.user(groups=[g])
    details = nc.users_groups.get_details(mask=g)
    assert [d.group_id for d in details] == [g]
    d = details[0]
    assert d.display_name == g
    assert d.user_count == 2
    assert d.disabled is False
    assert d.can_add is True and d.can_remove is True


def test_groups_get_details_with_limit_and_offset(nc, made):
    prefix = uid("m")
    ids = [made.group(prefix + s) for s in "abc"]
    first = nc.users_groups.get_details(mask=prefix, limit=2)
    rest = nc.users_groups.get_details(mask=prefix, offset=2)
    assert sorted(d.group_id for d in first + rest) == ids


def test_groups_create(nc, made):
    g = uid("g")
    made.groups.append(g)
    nc.users_groups.create(g)
    assert nc.users_groups.get_list(mask=g) == [g]


def test_groups_create_with_display_name(nc, made):
    g = uid("g")
    made.groups.append(g)
    nc.users_groups.create(g, display_name="Team España")
    assert nc.users_groups.get_list(mask=g) == [g]
    assert [d.display_name for d in nc.users_groups.get_details(mask=g)] == ["Team España"]


def test_groups_edit_display_name(nc, made):
    g = made.group()
    nc.users_groups.edit(g, display_name="Renamed Team")
    assert [d.display_name for d in nc.users_groups.get_details(mask=g)] == ["Renamed Team"]


def test_groups_delete(nc, made):
    g = made.group()
    nc.users_groups.delete(g)
    assert g not in nc.users_groups.get_list(mask=g)


def test_groups_get_members(nc, made):
    g = made.group()
    a, b = made.user(groups=[g]), made.user(groups=[g])
    made.user()
    assert sorted(nc.users_groups.get_members(g)) == sorted([a, b])


def test_groups_get_subadmins(nc, made):
    g = made.group()
    a = made.user(subadmin_of=[g])
    made.user(groups=[g])
    assert nc.users_groups.get_subadmins(g) == [a]


# --- server information the client reads ---------------------------------------------


def test_capabilities_and_version(nc):
    version = nc.srv_version
    assert isinstance(version["major"], int) and isinstance(version["string"], str)
    assert isinstance(version["extended_support"], bool)
    assert isinstance(nc.capabilities, dict)


def test_perform_login(nc):
    assert nc.perform_login() is True


def test_user_property_is_the_callers_id(nc):
    assert nc.user == ADMIN
