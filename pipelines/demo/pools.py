"""Word pools for realistic German/European business data (umlauts included on purpose)."""

from __future__ import annotations

SURNAMES = (
    "Müller", "Schröder", "Weiß", "Köhler", "Groß", "Bäcker", "Schäfer", "Krüger", "Hoffmann",
    "Wagner", "Becker", "Schulz", "Fischer", "Meyer", "Jäger", "Lübke", "Förster", "Brückner",
    "Vogel", "Zimmermann", "Hartmann", "Lange", "Böhm", "Kühn", "Wolff", "Neumann", "Schwarz",
    "Dürr", "Möller", "Günther", "Seidel", "Frühling", "Strauß", "Fuchs", "Engel", "Huber",
)
INDUSTRIES = (
    "Maschinenbau", "Logistik", "Elektrotechnik", "Bau", "Versicherungsmakler", "Metallwerke",
    "Lebensmittel", "Druckerei", "Automotive Zulieferer", "Medizintechnik", "Software",
    "Energietechnik", "Spedition", "Brauerei", "Holzverarbeitung", "Kunststofftechnik",
)
LEGAL_FORMS = {
    "DE": ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "SE"),
    "AT": ("GmbH", "AG", "KG"),
    "CH": ("AG", "GmbH", "SA"),
    "FR": ("SA", "SARL", "SAS"),
    "NL": ("B.V.", "N.V."),
    "IT": ("S.p.A.", "S.r.l."),
    "PL": ("Sp. z o.o.", "S.A."),
    "GB": ("Ltd", "PLC"),
    "US": ("Inc.", "LLC", "Corp."),
}
COUNTRIES = ("DE", "AT", "CH", "FR", "NL", "IT", "PL", "GB", "US")
COUNTRY_WEIGHTS = (0.70, 0.08, 0.05, 0.04, 0.04, 0.03, 0.02, 0.02, 0.02)
COUNTRY_NAMES = {
    "DE": "Germany", "AT": "Austria", "CH": "Switzerland", "FR": "France", "NL": "Netherlands",
    "IT": "Italy", "PL": "Poland", "GB": "United Kingdom", "US": "United States",
}
CURRENCY = {"DE": "EUR", "AT": "EUR", "FR": "EUR", "NL": "EUR", "IT": "EUR", "CH": "CHF",
            "PL": "PLN", "GB": "GBP", "US": "USD"}
EU = {"DE", "AT", "FR", "NL", "IT", "PL"}
CITIES = {
    "DE": ("München", "Köln", "Düsseldorf", "Nürnberg", "Frankfurt am Main", "Würzburg",
           "Lübeck", "Saarbrücken", "Göttingen", "Osnabrück", "Hamburg", "Stuttgart"),
    "AT": ("Wien", "Graz", "Linz", "Salzburg"),
    "CH": ("Zürich", "Basel", "Bern"),
    "FR": ("Paris", "Lyon", "Strasbourg"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht"),
    "IT": ("Milano", "Torino", "Bolzano"),
    "PL": ("Warszawa", "Kraków", "Wroclaw"),
    "GB": ("London", "Manchester", "Leeds"),
    "US": ("New York", "Chicago", "Boston"),
}
STREETS = (
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Industriestraße", "Am Mühlbach",
    "Königsallee", "Lindenstraße", "Schloßplatz", "Marktplatz", "Goethestraße", "Südring",
)
FIRST_NAMES = (
    "Jürgen", "Anna", "Sören", "Lena", "Björn", "Käthe", "Uwe", "Jörg", "Sabine", "Thomas",
    "Maria", "Günter", "Ute", "Stefan", "Claudia", "Matthias", "Zoë", "René", "Malgorzata",
)
JOB_TITLES = ("Geschäftsführer", "Einkaufsleiterin", "Buchhaltung", "CFO", "Controller",
              "Head of Procurement", "Kreditorenbuchhaltung")
ITEM_TEXTS = (
    "Lieferung Ersatzteile", "Wartung Quartal", "Lizenzgebühr", "Montage vor Ort",
    "Rücksendung Gutschrift", "Frachtkosten", "Schulung Mitarbeiter", "Beratung März",
    "Miete Stellfläche", "Anzahlung gemäß Vertrag", "Prüfgebühr TÜV", "Zubehör Größe XL",
)
PAYMENT_TERMS = ("N14", "N30", "N45", "N60", "SK30")
PAYMENT_TERM_DAYS = (14, 30, 45, 60, 30)
PAYMENT_TERM_WEIGHTS = (0.15, 0.45, 0.15, 0.1, 0.15)
DEAL_OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                    "decisionmakerboughtin", "contractsent")


def ascii_fold(text: str) -> str:
    """German transliteration, as people type names into a CRM: ü → ue, ß → ss."""
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss",
             "ł": "l", "ë": "e", "é": "e", "Ł": "L"}
    return "".join(table.get(c, c) for c in text)
