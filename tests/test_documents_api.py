"""Knowledge documents through the official SDK (strict models) against a live server."""

from __future__ import annotations

import httpx
import pytest
from runwayml import BadRequestError, NotFoundError, RunwayML

from conformance.media import png
from support.clients import documented, sdk
from support.server import Server
from taxiway.api.documents import DocumentPage, DocumentView
from taxiway.avatars.tokens import KNOWLEDGE_TOKEN_LIMIT, count_tokens

VOICE = {"type": "runway-live-preset", "preset_id": "clara"}


def other_org(server: Server, name: str) -> RunwayML:
    """A client for a second organization on the same server."""
    return sdk(server, key=server.new_org(name, "--credits", "100"))


def test_tokens_are_gpt2_bpe_counted_in_slices() -> None:
    assert count_tokens("Hello world") == 2
    assert count_tokens("") == 0
    text = "The avatar reads this knowledge.\n" * 40_000  # far past one slice
    from taxiway.avatars.tokens import tokenizer

    assert count_tokens(text) == len(tokenizer().encode(text, add_special_tokens=False).ids)


def test_create_retrieve_update_delete(client: RunwayML) -> None:
    created = client.documents.create(name="Opening hours", content="We open at 9 and close at 17.")
    assert created.type == "text"
    assert created.used_by == []
    assert created.created_at == created.updated_at

    fetched = client.documents.retrieve(created.id)
    assert (fetched.name, fetched.content) == ("Opening hours", "We open at 9 and close at 17.")

    assert client.documents.update(created.id, content="We open at 8.") is None
    assert client.documents.update(created.id, name="Hours") is None
    fetched = client.documents.retrieve(created.id)
    assert (fetched.name, fetched.content) == ("Hours", "We open at 8.")
    assert fetched.updated_at > created.updated_at
    documented(DocumentView, created, fetched)

    with pytest.raises(BadRequestError) as info:
        client.documents.update(created.id)  # no field at all
    assert "At least one" in info.value.body["issues"][0]["message"]
    with pytest.raises(BadRequestError):
        client.documents.create(name="", content="x")

    client.documents.delete(created.id)
    with pytest.raises(NotFoundError):
        client.documents.retrieve(created.id)
    with pytest.raises(NotFoundError):
        client.documents.delete(created.id)


def test_list_walks_every_page_in_each_order(server: Server) -> None:
    client = other_org(server, "doc-lister")
    made = [client.documents.create(name=f"doc {i}", content=f"content {i}").id for i in range(5)]
    client.documents.update(made[0], name="touched last")

    newest_first = [d.id for d in client.documents.list(limit=2, sort="createdAt", order="desc")]
    assert newest_first == made[::-1]
    oldest_first = [d.id for d in client.documents.list(limit=2, sort="createdAt", order="asc")]
    assert oldest_first == made
    by_update = [d.id for d in client.documents.list(limit=3, sort="updatedAt", order="desc")]
    assert by_update[0] == made[0] and sorted(by_update) == sorted(made)

    page = client.documents.list(limit=2, sort="createdAt", order="desc")
    assert len(page.data) == 2 and page.next_cursor
    assert not hasattr(page.data[0], "content")  # summaries only

    with pytest.raises(BadRequestError):  # a cursor belongs to its own sort and order
        client.documents.list(limit=2, sort="updatedAt", order="desc", cursor=page.next_cursor)
    with pytest.raises(BadRequestError):
        client.documents.list(limit=2, sort="createdAt", order="desc", cursor="not-a-cursor")
    with pytest.raises(BadRequestError):
        client.documents.list(limit=0, sort="createdAt", order="desc")


def test_used_by_and_delete_detaches(client: RunwayML) -> None:
    document = client.documents.create(name="FAQ", content="Returns are free within 30 days.")
    avatar = client.avatars.create(
        name="Support", personality="Helpful.", reference_image=png(), voice=VOICE, document_ids=[document.id]
    )
    used_by = client.documents.retrieve(document.id).used_by
    assert [(a.id, a.name) for a in used_by] == [(avatar.id, "Support")]
    summaries = client.documents.list(limit=100, sort="updatedAt", order="desc")
    assert any(d.id == document.id and d.used_by[0].id == avatar.id for d in summaries)
    documented(DocumentPage, summaries)
    documented(DocumentView, client.documents.retrieve(document.id))

    client.documents.delete(document.id)
    assert client.avatars.retrieve(avatar.id).document_ids == []


def test_content_update_cannot_push_an_avatar_over_the_knowledge_limit(client: RunwayML) -> None:
    small = client.documents.create(name="small", content="short")
    big = client.documents.create(name="big", content=" word" * 30_000)
    client.avatars.create(
        name="Scholar",
        personality="Knows things.",
        reference_image=png(),
        voice=VOICE,
        document_ids=[small.id, big.id],
    )
    grown = " word" * 50_000
    with pytest.raises(BadRequestError) as info:
        client.documents.update(small.id, content=grown)
    message = info.value.body["error"]
    total = count_tokens(grown) + count_tokens(" word" * 30_000)
    assert f"{KNOWLEDGE_TOKEN_LIMIT:,}" in message and f"{total:,}" in message and "Scholar" in message
    assert client.documents.retrieve(small.id).content == "short"  # nothing changed
    client.documents.update(small.id, content="still short")  # within the limit: fine


def test_documents_are_private_to_their_organization(server: Server, client: RunwayML) -> None:
    mine = client.documents.create(name="secret", content="classified")
    theirs = other_org(server, "doc-outsider")
    with pytest.raises(NotFoundError):
        theirs.documents.retrieve(mine.id)
    with pytest.raises(NotFoundError):
        theirs.documents.update(mine.id, name="stolen")
    with pytest.raises(NotFoundError):
        theirs.documents.delete(mine.id)
    assert mine.id not in [d.id for d in theirs.documents.list(limit=100, sort="createdAt", order="desc")]
    with pytest.raises(BadRequestError) as info:  # nor can they attach it
        theirs.avatars.create(
            name="Spy", personality="Sneaky.", reference_image=png(), voice=VOICE, document_ids=[mine.id]
        )
    assert info.value.body["issues"][0]["path"] == ["documentIds", 0]
    assert client.documents.retrieve(mine.id).name == "secret"


def test_unknown_fields_and_bad_bodies_are_400(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.key}", "X-Runway-Version": "2024-11-06"}
    url = f"{server.base_url}/v1/documents"
    response = httpx.post(url, headers=headers, json={"name": "n", "content": "c", "avatarId": "x"})
    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "unrecognized_keys"
    response = httpx.post(url, headers=headers, json={"name": "n", "content": 5})
    assert response.status_code == 400 and response.json()["issues"][0]["path"] == ["content"]
