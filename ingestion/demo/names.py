"""Locale data for the demo generator: names, places, phones, companies and e-mails.

Every function takes a numpy Generator and a count and returns Python lists of strings, so the
caller decides which rows get which value. Russian data stays within cp1251.
"""

from __future__ import annotations

import numpy as np

LOCALES = ("en", "ru")


def _words(text: str) -> tuple[str, ...]:
    """Space-separated words; `_` stands for a space inside one value."""
    return tuple(w.replace("_", " ") for w in text.split())


EN_MALE = _words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew "
    "Anthony Mark Paul Steven Andrew Kevin Brian George Edward Ronald Timothy Jason "
    "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Patrick Sean Conor Liam Aidan "
    "Ciaran Declan Niall Oliver Harry Jack Noah Leo Oscar Samuel Peter Simon Martin Colm "
    "Eoin"
)
EN_FEMALE = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy "
    "Betty Margaret Sandra Ashley Emily Donna Michelle Carol Amanda Melissa Deborah "
    "Stephanie Rebecca Laura Sharon Cynthia Kathleen Amy Anna Emma Olivia Sophie Grace "
    "Chloe Aoife Niamh Siobhan Ciara Orla Sinead Roisin Clare Fiona Helen Rachel Lucy "
    "Hannah Ella"
)
EN_LAST = _words(
    "Murphy Kelly O'Sullivan Walsh Smith O'Brien Byrne Ryan O'Connor O'Neill O'Reilly "
    "Doyle McCarthy Gallagher O'Doherty Kennedy Lynch Murray Quinn Moore McLoughlin "
    "O'Carroll Connolly Daly O'Connell Wilson Dunne Brennan Burke Collins Campbell Clarke "
    "Johnston Hughes O'Farrell Fitzgerald Brown Martin Maguire Nolan Flynn Thompson "
    "O'Callaghan O'Donnell Duffy Mahony Boyle Healy Shea White Sweeney Hayes Kavanagh "
    "Power McGrath Moran Brady Stewart Casey Foley Fitzpatrick Leary McDonnell MacMahon "
    "Donnelly Regan Donovan Burns Flanagan Mullan Barry Kane Robinson Cunningham Griffin "
    "Kenny Sheehan Ward Whelan Lyons Reid Graham Higgins Cullen Keane King Maher McKenna "
    "Bell Scott Hogan Keegan Magee MacNamara MacDonald MacDermott Moloney Rourke Buckley "
    "Dwyer Jones Williams Taylor Davies Evans Roberts Wright Walker Green Hall Wood "
    "Harris Lewis Jackson Turner Hill Cooper"
)
EN_MAIL_DOMAINS = _words(
    "gmail.com outlook.com yahoo.com hotmail.com icloud.com eircom.net proton.me"
)
EN_MAIL_WEIGHTS = (0.42, 0.2, 0.1, 0.1, 0.1, 0.05, 0.03)
# Country -> (weight, cities, phone country code, mobile prefixes, national number length:
# digits after the country code, so that every number is valid E.164 for that country).
EN_COUNTRIES = {
    "IE": (
        0.55,
        _words(
            "Dublin Cork Galway Limerick Waterford Kilkenny Drogheda Dundalk Sligo Athlone "
            "Wexford Navan Bray Ennis Tralee"
        ),
        "353",
        _words("83 85 86 87 89"),
        9,
    ),
    "GB": (
        0.25,
        _words(
            "London Manchester Birmingham Leeds Bristol Liverpool Edinburgh Glasgow Cardiff "
            "Belfast Sheffield Nottingham"
        ),
        "44",
        _words("7700 7712 7801 7911"),
        10,
    ),
    "NL": (0.06, _words("Amsterdam Rotterdam Utrecht Eindhoven Groningen"), "31", ("6",), 9),
    "DE": (
        0.06,
        _words("Berlin Munich Hamburg Cologne Frankfurt"),
        "49",
        _words("151 160 171"),
        10,
    ),
    "FR": (0.04, _words("Paris Lyon Marseille Toulouse"), "33", ("6", "7"), 9),
    "BE": (0.02, _words("Brussels Antwerp Ghent"), "32", _words("470 475 486"), 9),
    "ES": (0.02, _words("Madrid Barcelona Valencia"), "34", ("6",), 9),
}
EN_BRANDS = _words(
    "Brightwave Greenfield Northstar Bluebell Harbour Riverside Oakwood Silverline "
    "Redhill Summit Keystone Clearview Fairway Highland Lakeshore Meadow Pinecrest "
    "Seaview Stonebridge Westpoint Eastgate Ironwood Goldcrest Copperleaf Emerald "
    "Shamrock Atlantic Celtic Liffey Shannon Corrib Boyne Mourne Wicklow Kerry Burren "
    "Claddagh Avondale Glenview Foxrock"
)
EN_SUFFIXES = ("Ltd", "Limited", "Trading Ltd", "Group", "Holdings Ltd", "& Co", "Solutions Ltd")
EN_SUFFIX_WEIGHTS = (0.3, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1)

RU_MALE = _words(
    "Александр Алексей Андрей Антон Артём Борис Вадим Валентин Василий Виктор Виталий "
    "Владимир Владислав Вячеслав Геннадий Георгий Григорий Денис Дмитрий Евгений Егор "
    "Иван Игорь Илья Кирилл Константин Леонид Максим Михаил Никита Николай Олег Павел "
    "Пётр Роман Руслан Сергей Степан Тимур Фёдор Юрий Ярослав"
)
RU_FEMALE = _words(
    "Александра Алина Алла Анастасия Анна Валентина Валерия Вера Виктория Галина Дарья "
    "Евгения Екатерина Елена Елизавета Жанна Зоя Инна Ирина Карина Кристина Ксения Лариса "
    "Любовь Людмила Маргарита Марина Мария Надежда Наталья Нина Оксана Ольга Полина "
    "Светлана София Татьяна Ульяна Юлия Яна"
)
# Patronymics come in (male, female) pairs; their forms are irregular, so they are spelled out.
RU_PATRONYMICS = tuple(
    zip(
        _words(
            "Александрович Алексеевич Андреевич Борисович Васильевич Викторович Владимирович "
            "Геннадьевич Григорьевич Дмитриевич Евгеньевич Иванович Игоревич Ильич "
            "Константинович Михайлович Никитич Николаевич Олегович Павлович Петрович "
            "Романович Сергеевич Фёдорович Юрьевич"
        ),
        _words(
            "Александровна Алексеевна Андреевна Борисовна Васильевна Викторовна Владимировна "
            "Геннадьевна Григорьевна Дмитриевна Евгеньевна Ивановна Игоревна Ильинична "
            "Константиновна Михайловна Никитична Николаевна Олеговна Павловна Петровна "
            "Романовна Сергеевна Фёдоровна Юрьевна"
        ),
        strict=True,
    )
)
RU_SURNAMES = _words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров "
    "Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов "
    "Андреев Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов "
    "Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин "
    "Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков "
    "Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев "
    "Титов Марков Миронов Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов "
    "Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов Мартынов Ефимов "
    "Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов Коновалов "
    "Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов "
    "Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов "
    "Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев "
    "Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Еремин Тихомиров Галкин "
    "Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев "
    "Цветков Левин Митрофанов Воронцов Ковальский Вишневский Островский Жуковский "
    "Полянский Шевченко Бондаренко Коваленко Ткаченко Ким"
)
RU_CITIES = _words(
    "Москва Санкт-Петербург Новосибирск Екатеринбург Казань Нижний_Новгород Челябинск "
    "Самара Омск Ростов-на-Дону Уфа Красноярск Воронеж Пермь Волгоград Краснодар Саратов "
    "Тюмень Тольятти Ижевск Барнаул Ульяновск Иркутск Хабаровск Ярославль Владивосток "
    "Томск Оренбург Кемерово Рязань Калининград Тула Сочи"
)
RU_MAIL_DOMAINS = _words("mail.ru yandex.ru gmail.com bk.ru inbox.ru list.ru rambler.ru ya.ru")
RU_MAIL_WEIGHTS = (0.34, 0.3, 0.14, 0.06, 0.05, 0.04, 0.04, 0.03)
RU_MOBILE_CODES = _words(
    "903 905 906 909 910 915 916 917 919 925 926 929 950 951 952 953 960 961 977 985 987 999"
)
RU_BRANDS = _words(
    "Ромашка Вектор Альфа Гарант Техносервис Стройинвест Меридиан Восход Орион Сфера "
    "Прогресс Импульс Лидер Радуга Кристалл Атлант Эталон Спектр Партнёр Континент Альянс "
    "Магистраль Горизонт Фортуна Престиж Берёзка Северный_путь Торговый_дом_Волга "
    "Уралснаб Сибтехком Агроресурс Промтех Интерсвязь Медтехника Стройдвор Домострой "
    "Бизнес-Центр Полимер Энергосбыт Логистик-Про"
)
RU_FORMS = ("ООО", "ИП", "АО", "ЗАО", "ПАО")
RU_FORM_WEIGHTS = (0.6, 0.22, 0.1, 0.06, 0.02)
RU_BRANCHES = ("филиал в Казани", "обособленное подразделение", "склад", "отдел закупок")

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        _words("a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya"),
        strict=True,
    )
)


def translit(text: str) -> str:
    """Latin spelling of a Russian word, as people use it in e-mail addresses."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower()).replace("-", "")


def _female_surname(surname: str) -> str:
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname  # Шевченко, Ким: the same for both sexes


def _pick(rng: np.random.Generator, values, n: int, weights=None) -> np.ndarray:
    if weights is None:
        return rng.integers(0, len(values), n)
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(values), n, p=w / w.sum())


def _zipf_weights(k: int) -> np.ndarray:
    return 1.0 / np.arange(1, k + 1) ** 0.9


def people(rng: np.random.Generator, n: int, locale: str) -> tuple[list[str], list[str]]:
    """Full names and e-mail local parts (the part before the @)."""
    female = rng.random(n) < 0.5
    style = rng.integers(0, 4, n)
    suffix = np.where(rng.random(n) < 0.45, rng.integers(1, 99, n), 0)
    if locale == "ru":
        first = np.where(female, _pick(rng, RU_FEMALE, n), _pick(rng, RU_MALE, n))
        last = _pick(rng, RU_SURNAMES, n)
        patr = _pick(rng, RU_PATRONYMICS, n)
        names, locals_ = [], []
        for f, fi, la, pa_, st, sx in zip(female, first, last, patr, style, suffix, strict=True):
            given = RU_FEMALE[fi] if f else RU_MALE[fi]
            sur = _female_surname(RU_SURNAMES[la]) if f else RU_SURNAMES[la]
            names.append(f"{sur} {given} {RU_PATRONYMICS[pa_][1 if f else 0]}")
            locals_.append(_mail_local(translit(given), translit(sur), st, sx))
        return names, locals_
    first = np.where(female, _pick(rng, EN_FEMALE, n), _pick(rng, EN_MALE, n))
    last = _pick(rng, EN_LAST, n)
    names, locals_ = [], []
    for f, fi, la, st, sx in zip(female, first, last, style, suffix, strict=True):
        given = EN_FEMALE[fi] if f else EN_MALE[fi]
        sur = EN_LAST[la]
        names.append(f"{given} {sur}")
        locals_.append(_mail_local(given.lower(), sur.lower().replace("'", ""), st, sx))
    return names, locals_


def _mail_local(given: str, sur: str, style: int, suffix: int) -> str:
    base = (f"{given}.{sur}", f"{given}{sur}", f"{given[0]}.{sur}", f"{sur}_{given}")[style]
    return f"{base}{suffix}" if suffix else base


def emails(rng: np.random.Generator, locals_: list[str], locale: str) -> list[str]:
    domains, weights = (
        (RU_MAIL_DOMAINS, RU_MAIL_WEIGHTS) if locale == "ru" else (EN_MAIL_DOMAINS, EN_MAIL_WEIGHTS)
    )
    idx = _pick(rng, domains, len(locals_), weights)
    return [f"{lp}@{domains[i]}" for lp, i in zip(locals_, idx, strict=True)]


def countries(rng: np.random.Generator, n: int, locale: str) -> list[str]:
    if locale == "ru":
        return ["RU"] * n
    codes = list(EN_COUNTRIES)
    idx = _pick(rng, codes, n, [EN_COUNTRIES[c][0] for c in codes])
    return [codes[i] for i in idx]


def cities(rng: np.random.Generator, country: list[str], locale: str) -> list[str]:
    """A city of the customer's country; big cities are more likely (Zipf-like)."""
    n = len(country)
    if locale == "ru":
        idx = _pick(rng, RU_CITIES, n, _zipf_weights(len(RU_CITIES)) * _moscow_boost())
        return [RU_CITIES[i] for i in idx]
    codes = np.array(country)
    out = np.empty(n, dtype=object)
    for code, (_, towns, *_) in EN_COUNTRIES.items():
        rows = np.flatnonzero(codes == code)
        out[rows] = np.array(towns, dtype=object)[
            _pick(rng, towns, len(rows), _zipf_weights(len(towns)))
        ]
    return out.tolist()


def _moscow_boost() -> np.ndarray:
    w = np.ones(len(RU_CITIES))
    w[0] = 2.5  # Moscow dominates Russian e-commerce
    return w


def phones(rng: np.random.Generator, country: list[str], locale: str) -> list[str]:
    """Phone numbers as typed into a CRM: mostly one national format, some variants."""
    n = len(country)
    variant = _pick(rng, range(4), n, (0.7, 0.1, 0.1, 0.1))
    digits = rng.integers(0, 10_000_000, n)
    pref = rng.integers(0, 1_000, n)
    out = []
    if locale == "ru":
        for v, d, p in zip(variant, digits, pref, strict=True):
            code = RU_MOBILE_CODES[p % len(RU_MOBILE_CODES)]
            s = f"{d:07d}"
            out.append(
                (
                    f"+7 ({code}) {s[:3]}-{s[3:5]}-{s[5:]}",
                    f"8 ({code}) {s[:3]}-{s[3:5]}-{s[5:]}",
                    f"8{code}{s}",
                    f"+7{code}{s}",
                )[v]
            )
        return out
    for c, v, d, p in zip(country, variant, digits, pref, strict=True):
        _, _, cc, mobiles, length = EN_COUNTRIES[c]
        mob = mobiles[p % len(mobiles)]
        s = f"{d:07d}{p:03d}"[: length - len(mob)]
        # Spain dials national numbers without a trunk 0.
        trunk = "" if c == "ES" else "0"
        out.append(
            (
                f"+{cc} {mob} {s[:3]} {s[3:]}",
                f"{trunk}{mob} {s[:3]} {s[3:]}",
                f"{trunk}{mob}{s}",
                f"+{cc}{mob}{s}",
            )[v]
        )
    return out


def companies(rng: np.random.Generator, names: list[str], locale: str) -> list[str]:
    """Company names with the quoting hazards real exports have.

    Russian names carry quotes ("Ромашка" or «Ромашка»), ~3% a `;` branch suffix; English ones
    sometimes a comma or quotes. ~0.1% hold a line break (pasted from a two-line field).
    """
    n = len(names)
    brand = rng.integers(0, len(RU_BRANDS if locale == "ru" else EN_BRANDS), n)
    u = rng.random((n, 3))
    out = []
    if locale == "ru":
        form = _pick(rng, RU_FORMS, n, RU_FORM_WEIGHTS)
        branch = _pick(rng, RU_BRANCHES, n)
        for name, f, b, br_, (q, semi, nl) in zip(names, form, brand, branch, u, strict=True):
            if RU_FORMS[f] == "ИП":
                sur, given, patr = name.split(" ")
                s = f"ИП {sur} {given[0]}. {patr[0]}."
            else:
                br = RU_BRANDS[b]
                s = f"{RU_FORMS[f]} «{br}»" if q < 0.3 else f'{RU_FORMS[f]} "{br}"'
            if semi < 0.03:
                s += f"; {RU_BRANCHES[br_]}"
            if nl < 0.001:
                s += "\nюр. адрес: г. Москва"
            out.append(s)
        return out
    suffix = _pick(rng, EN_SUFFIXES, n, EN_SUFFIX_WEIGHTS)
    partner = rng.integers(0, len(EN_LAST), n)
    for sf, b, pt, (q, comma, nl) in zip(suffix, brand, partner, u, strict=True):
        br = EN_BRANDS[b]
        if comma < 0.05:
            s = f"{br}, {EN_LAST[pt]} & Partners"
        elif q < 0.03:
            s = f'"{br}" {EN_SUFFIXES[sf]}'
        else:
            s = f"{br} {EN_SUFFIXES[sf]}"
        if nl < 0.001:
            s += "\nc/o Accounts Department"
        out.append(s)
    return out
