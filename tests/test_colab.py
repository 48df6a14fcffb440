import os

import pytest
from test_download import GOOD_PNG, no_proxy, server  # noqa: F401  (fixtures)

from nst_helpers import colab


def test_badge_points_at_the_notebooks_own_path():
    badge = colab.badge_markdown("notebooks/01_gram_matrices.ipynb")
    assert badge.startswith("[![Open In Colab](https://colab.research.google.com/assets/")
    assert badge.endswith(f"(https://colab.research.google.com/github/{colab.REPO}/blob/"
                          f"{colab.BRANCH}/notebooks/01_gram_matrices.ipynb)")


def test_setup_cell_does_nothing_outside_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(colab.setup_cell_source(), "setup", "exec"), namespace)
    assert os.getcwd() == str(tmp_path) and list(tmp_path.iterdir()) == []
    assert colab.repo_url() in colab.setup_cell_source()


def test_famous_painting_offline_falls_back_to_the_stand_in(capsys):
    image, title = colab.famous_painting("starry_night", size=64, fetch=False)
    assert image.shape[:2] == (1, 3) and max(image.shape[-2:]) == 64
    assert "swirls.jpg" in title and "stand-in" in capsys.readouterr().out


def test_famous_painting_fetched_when_reachable(server, monkeypatch, capsys):  # noqa: F811
    entry = {**colab.FAMOUS_PAINTINGS["great_wave"], "url": f"{server}/good.png?wave"}
    monkeypatch.setitem(colab.FAMOUS_PAINTINGS, "great_wave", entry)
    image, title = colab.famous_painting("great_wave", size=80, fetch=True)
    assert title == entry["title"] and image.shape == (1, 3, 60, 80)
    assert capsys.readouterr().out == ""


def test_famous_painting_fetch_failure_falls_back(server, monkeypatch, capsys):  # noqa: F811
    entry = {**colab.FAMOUS_PAINTINGS["great_wave"], "url": f"{server}/text.jpg"}
    monkeypatch.setitem(colab.FAMOUS_PAINTINGS, "great_wave", entry)
    image, title = colab.famous_painting("great_wave", size=48, fetch=True)
    assert "waves.jpg" in title and "Could not fetch" in capsys.readouterr().out
    assert len(GOOD_PNG) > 0 and max(image.shape[-2:]) == 48


def test_offer_download_outside_colab_says_where(tmp_path, capsys):
    colab.offer_download(tmp_path / "x.png")
    assert str(tmp_path / "x.png") in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(colab.FAMOUS_PAINTINGS))
def test_famous_paintings_have_public_domain_sources(name):
    entry = colab.FAMOUS_PAINTINGS[name]
    assert entry["url"].startswith("https://upload.wikimedia.org/")
    assert "public domain" in entry["title"]
