"""The config file: what the app writes back keeps what the user wrote."""

from qwqchat import config


def test_saving_a_key_keeps_every_comment_and_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('# my notes\nmodel = "/m/x.gguf"  # the main one\n\n[sampling]\n# cooler\ntemperature = 0.3\n')
    config.save_keys({"theme": "nord"}, path)
    text = path.read_text()
    assert "# my notes" in text and "# the main one" in text and "# cooler" in text
    cfg = config.load(path)
    assert cfg.theme == "nord" and cfg.model == "/m/x.gguf" and cfg.sampling.temperature == 0.3
    config.save_keys({"theme": None}, path)
    assert "theme" not in path.read_text() and "# cooler" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


def test_threads_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QWQCHAT_THREADS", "3")
    assert config.load(tmp_path / "none.toml").threads == 3
