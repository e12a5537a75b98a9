"""Byline text to names: the forms real news pages print (bench/metadata pages)."""

from __future__ import annotations

import pytest

from palimpsest.byline import names


@pytest.mark.parametrize(("byline", "expected"), [
    ("By Glen Owen And Brendan Carlin For The Mail On Sunday", ["Glen Owen", "Brendan Carlin"]),
    ("Richard David Precht im Gespräch mit Karin Fischer",
     ["Richard David Precht", "Karin Fischer"]),
    ("MORITZ GATHMANN am 21. April 2020", ["MORITZ GATHMANN"]),
    ("Kab Niang Le 17/02/2020 A l’université Paris-8", ["Kab Niang"]),
    ("Luke Kemp 11 February 2020", ["Luke Kemp"]),
    ("Poppy Reid Feb 21, 2020", ["Poppy Reid"]),
    ("Rocío Latorre y José Miguel Wilson Hace 13 horas Tiempo de lectura: 8 minutos",
     ["Rocío Latorre", "José Miguel Wilson"]),
    ("Interview: Julia Lauter", ["Julia Lauter"]),
    ("Auteur Anna Kubišta", ["Anna Kubišta"]),
    ("Williams Perdomo @wperdomod -", ["Williams Perdomo"]),
    ("Grant Tinsley, PhD", ["Grant Tinsley"]),
    ("Adam Aaronson, Staff Writer", ["Adam Aaronson"]),
    ("Katharina Schmidt Kategorien: Mode 6. November 2023, 15:25 Uhr", ["Katharina Schmidt"]),
    ("Isabella.DiBiase am Samstag", ["Isabella.DiBiase"]),
    ("Disko Von Ernst Lohoff", ["Ernst Lohoff"]),
    ("责任编辑：孔德明", ["孔德明"]),
    ("Loïc Le Clerc", ["Loïc Le Clerc"]),
    ("['Redaktion']", []),
    ("Felix Eisenreich //", ["Felix Eisenreich"]),  # (separators printed beside the name)
    ("Jeff Foust \u2014", ["Jeff Foust"]),
    ("Por 'Luana Patriolino, Raphael Felice'", ["Luana Patriolino", "Raphael Felice"]),
    ("By Perry Bacon Jr.", ["Perry Bacon Jr."]),
    ("Nicolas Gutierrez C. -", ["Nicolas Gutierrez C."]),
    ("Anna Schmidt.", ["Anna Schmidt"]),
    ("Foto: Ingo Schneider", []),
    ("No Author", []),
    # where the first wrote from (NZZ), and an agency, which is no place
    ("Markus M. Haefliger, London, Beat Bumbacher", ["Markus M. Haefliger", "Beat Bumbacher"]),
    ("Jane Doe, Reuters", ["Jane Doe", "Reuters"]),
])
def test_byline_names(byline: str, expected: list[str]) -> None:
    assert names([byline]) == expected


def test_site_names_are_not_authors() -> None:
    assert names(["unocero - Alberto Ávila"], sites={"unocero"}) == ["Alberto Ávila"]
    assert names(["Deutsche Welle"], sites={"deutsche welle"}) == []


def test_duplicates_across_bylines_are_dropped() -> None:
    assert names(["Emily Burack", "By EMILY BURACK"]) == ["Emily Burack"]
