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


def test_unknown_or_misplaced_keys_warn_in_one_line_naming_where_they_belong(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('temperature = 0.3\ncolour = "red"\n[sampling]\ntop_k = 5\nctx = 4096\n')
    warnings = []
    cfg = config.load(path, warn=warnings.append)
    assert cfg.sampling.temperature == 0.6 and cfg.sampling.top_k == 5  # a misplaced key is not used
    assert warnings == [
        f"config file {path}: temperature belongs under [sampling]; ignored",
        f"config file {path}: unknown key colour; ignored",
        f"config file {path}: [sampling] ctx belongs at the top level; ignored",
    ]


def test_every_key_has_a_type_a_default_and_help():
    for name, key in config.KEYS.items():
        assert key.help and key.type is not None, name
        if name in config.Config.__dataclass_fields__ and name != "sampling":  # a table of its own
            assert config.Config().__getattribute__(name) == key.default, name


def test_one_precedence_defaults_file_environment_flags(qwq_home, monkeypatch):
    qwq_home.mkdir(parents=True, exist_ok=True)
    (qwq_home / "config.toml").write_text('model = "/file.gguf"\nthreads = 2\nctx = 4096\n[sampling]\ntop_k = 5\n')
    monkeypatch.setenv("QWQCHAT_MODEL", "/env.gguf")
    cfg = config.resolve({"model": "/flag.gguf", "temperature": 0.1, "ctx": None})
    assert (cfg.model, cfg.threads, cfg.ctx, cfg.kv_cache) == ("/flag.gguf", 1, 4096, "f16")
    assert (cfg.sampling.temperature, cfg.sampling.top_k) == (0.1, 5)
    assert config.resolve({}).model == "/env.gguf"
    # a conversation's saved sampling replaces the file's; a flag wins over it in `ask --chat`, not in the UI
    saved = cfg.sampling_for({"temperature": 0.9, "top_k": 30})
    assert (saved.temperature, saved.top_k) == (0.1, 30)
    assert cfg.sampling_for({"temperature": 0.9}, flags_win=False).temperature == 0.9
    assert cfg.sampling_for(None) == cfg.sampling


def test_draft_from_the_file_and_the_flag(qwq_home):
    qwq_home.mkdir(parents=True, exist_ok=True)
    assert config.resolve({}).draft == 0  # off unless asked for: it lost on every prompt of the benchmark
    (qwq_home / "config.toml").write_text("draft = 4\n")
    assert config.resolve({}).draft == 4
    assert config.resolve({"draft": 0}).draft == 0  # the flag turns it off again
    assert config.resolve({"draft": 10}).draft == 10
