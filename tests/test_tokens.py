"""The stylesheets' colours are Atlassian Design System tokens (SPEC §7): every colour is a
``var(--ds-…, light fallback)``, the fallbacks are @atlaskit/tokens' light values, and the dev
host's dark and increased-contrast files cover every colour token the app uses."""

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
SHEETS = [STATIC / "app.css", STATIC / "dev" / "jira.css"]
THEME_FREE = ("--ds-space-", "--ds-font-", "--ds-radius-")  # the same in every theme
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?)\(")


def token_uses(css: str) -> list[tuple[str, str]]:
    """(name, fallback) of each var(--ds-name, fallback), nested parentheses included."""
    uses = []
    for match in re.finditer(r"var\((--ds-[a-z0-9-]+)\s*(,?)", css):
        if not match.group(2):
            uses.append((match.group(1), ""))
            continue
        depth, start = 1, match.end()
        for end in range(start, len(css)):
            depth += {"(": 1, ")": -1}.get(css[end], 0)
            if depth == 0:
                break
        uses.append((match.group(1), css[start:end].strip()))
    return uses


def theme(name: str) -> dict[str, str]:
    text = (STATIC / "dev" / f"tokens-{name}.css").read_text()
    return dict(re.findall(r"(--ds-[a-z0-9-]+):\s*([^;]+);", text))


def strip_tokens(css: str) -> str:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    while "var(" in css:
        css = re.sub(r"var\([^()]*(\([^()]*\)[^()]*)*\)", "", css)
    return css


def test_no_colour_outside_token_fallbacks():
    """Is every colour in app.css and the dev host's css a token's fallback?"""
    for sheet in SHEETS:
        leftover = COLOUR.findall(strip_tokens(sheet.read_text()))
        assert leftover == [], f"{sheet.name}: hard-coded colours {leftover}"


def test_fallbacks_are_the_light_values():
    """Is each colour token's fallback its @atlaskit/tokens light value (so outside Jira the
    pages look like Jira's light theme)?"""
    light = theme("light")
    for sheet in SHEETS:
        for name, fallback in token_uses(sheet.read_text()):
            if name.startswith(THEME_FREE):
                continue
            assert fallback, f"{sheet.name}: {name} has no fallback"
            expected = light[name].replace("0px", "0")
            assert fallback.replace("0px", "0").upper() == expected.upper(), (name, fallback)


def test_other_themes_cover_every_colour_token():
    """Do the dev host's dark and increased-contrast files give every colour token the app
    uses a value of their own?"""
    light = theme("light")
    used = {name for sheet in SHEETS for name, _ in token_uses(sheet.read_text())}
    colour_tokens = {name for name in used if not name.startswith(THEME_FREE)}
    for name in ("dark", "light-increased-contrast", "dark-increased-contrast"):
        other = theme(name)
        assert colour_tokens <= set(other) and set(other) == set(light), name
        assert other["--ds-text"] != light["--ds-text"], name
