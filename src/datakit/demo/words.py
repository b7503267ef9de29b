"""Word lists the demo's generator draws names, places and film titles from.

Kept as plain tuples in code (no data files to ship or find) and in a fixed order: the generator picks
from them by index with a seeded RNG, so changing a list changes every generated file — which the
determinism test would notice.
"""

from __future__ import annotations

FIRST_NAMES = (
    "MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH", "JENNIFER", "MARIA", "SUSAN", "MARGARET",
    "DOROTHY", "LISA", "NANCY", "KAREN", "BETTY", "HELEN", "SANDRA", "DONNA", "CAROL", "RUTH", "SHARON",
    "MICHELLE", "LAURA", "SARAH", "KIMBERLY", "DEBORAH", "JESSICA", "SHIRLEY", "CYNTHIA", "ANGELA",
    "MELISSA", "BRENDA", "AMY", "ANNA", "REBECCA", "VIRGINIA", "KATHLEEN", "PAMELA", "MARTHA", "DEBRA",
    "AMANDA", "JAMES", "JOHN", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "CHARLES", "JOSEPH",
    "THOMAS", "CHRISTOPHER", "DANIEL", "PAUL", "MARK", "DONALD", "GEORGE", "KENNETH", "STEVEN", "EDWARD",
    "BRIAN", "RONALD", "ANTHONY", "KEVIN", "JASON", "MATTHEW", "GARY", "TIMOTHY", "JOSE", "LARRY",
    "JEFFREY", "FRANK", "SCOTT", "ERIC", "STEPHEN", "ANDREW", "RAYMOND", "GREGORY", "JOSHUA", "JERRY",
    "DENNIS", "PENELOPE", "NICK", "ED", "JENNIFER", "JOHNNY", "BETTE", "GRACE", "MATTHEW", "JOE", "CHRISTIAN",
)  # fmt: skip

LAST_NAMES = (
    "SMITH", "JOHNSON", "WILLIAMS", "JONES", "BROWN", "DAVIS", "MILLER", "WILSON", "MOORE", "TAYLOR",
    "ANDERSON", "THOMAS", "JACKSON", "WHITE", "HARRIS", "MARTIN", "THOMPSON", "GARCIA", "MARTINEZ",
    "ROBINSON", "CLARK", "RODRIGUEZ", "LEWIS", "LEE", "WALKER", "HALL", "ALLEN", "YOUNG", "HERNANDEZ",
    "KING", "WRIGHT", "LOPEZ", "HILL", "SCOTT", "GREEN", "ADAMS", "BAKER", "GONZALEZ", "NELSON", "CARTER",
    "MITCHELL", "PEREZ", "ROBERTS", "TURNER", "PHILLIPS", "CAMPBELL", "PARKER", "EVANS", "EDWARDS",
    "COLLINS", "GUINESS", "WAHLBERG", "CHASE", "DAVIS", "LOLLOBRIGIDA", "NICHOLSON", "MOSTEL", "JOHANSSON",
    "SWANK", "GABLE", "CAGE", "BERRY", "WOOD", "BERGEN", "OLIVIER", "COSTNER", "VOIGHT", "TORN", "FAWCETT",
    "TRACY", "PALTROW", "MARX", "KILMER", "STREEP", "BLOOM", "CRAWFORD", "MCQUEEN", "HOFFMAN", "WAYNE",
    "PECK", "SOBIESKI", "HACKMAN", "DEAN", "DUKAKIS", "BOLGER", "MCKELLEN", "BRODY", "CRONYN", "HOPKINS",
)  # fmt: skip

TITLE_WORDS = (
    "ACADEMY", "DINOSAUR", "ACE", "GOLDFINGER", "ADAPTATION", "HOLES", "AFFAIR", "PREJUDICE", "AFRICAN",
    "EGG", "AGENT", "TRUMAN", "AIRPLANE", "SIERRA", "AIRPORT", "POLLOCK", "ALABAMA", "DEVIL", "ALADDIN",
    "CALENDAR", "ALAMO", "VIDEOTAPE", "ALASKA", "PHANTOM", "ALI", "FOREVER", "ALIEN", "CENTER", "ALLEY",
    "EVOLUTION", "ALONE", "TRIP", "ALTER", "VICTORY", "AMADEUS", "HOLY", "AMELIE", "HELLFIGHTERS",
    "AMERICAN", "CIRCUS", "AMISTAD", "MIDSUMMER", "ANACONDA", "CONFESSIONS", "ANALYZE", "HOOSIERS",
    "ANGELS", "LIFE", "ANNIE", "IDENTITY", "ANONYMOUS", "HUMAN", "ANTHEM", "LUKE", "ANTITRUST", "TOMATOES",
    "ANYTHING", "SAVANNAH", "APACHE", "DIVINE", "APOCALYPSE", "FLAMINGOS", "ARABIA", "DOGMA", "ARACHNOPHOBIA",
    "ROLLERCOASTER", "ARGONAUTS", "TOWN", "ARIZONA", "BANG", "ARK", "RIDGEMONT", "ARMAGEDDON", "LOST",
    "ARMY", "FLINTSTONES", "ARSENIC", "INDEPENDENCE", "ARTIST", "COLDBLOODED", "ATLANTIS", "CAUSE",
    "ATTACKS", "HATE", "ATTRACTION", "NEWTON", "AUTUMN", "CROW", "BABY", "HALL", "BACKLASH", "UNDEFEATED",
    "BADMAN", "DAWN", "BAKED", "CLEOPATRA", "BALLOON", "HOMEWARD", "BALLROOM", "MOCKINGBIRD", "BANGER",
    "PINOCCHIO", "BARBARELLA", "STREETCAR", "BAREFOOT", "MANCHURIAN", "BASIC", "EASY", "BEACH",
    "HEARTBREAKERS",
)  # fmt: skip

ADJECTIVES = (
    "Epic", "Astounding", "Fanciful", "Fast-Paced", "Intrepid", "Thrilling", "Touching", "Boring",
    "Unbelieveable", "Emotional", "Lacklusture", "Beautiful", "Taut", "Awe-Inspiring", "Insightful",
    "Stunning", "Amazing", "Brilliant", "Action-Packed", "Charming",
)  # fmt: skip

GENRES = (
    "Drama", "Epistle", "Reflection", "Documentary", "Story", "Saga", "Yarn", "Character Study",
    "Panorama", "Tale", "Display", "Drama", "Reflection", "Documentary",
)  # fmt: skip

NOUNS = (
    "Feminist", "Mad Scientist", "Teacher", "Database Administrator", "Explorer", "Lumberjack", "Car",
    "Frisbee", "Monkey", "Pastry Chef", "Dentist", "Forensic Psychologist", "Boy", "Girl", "Cat", "Dog",
    "Astronaut", "Sumo Wrestler", "Technical Writer", "Moose", "Pioneer", "Robot", "Squirrel", "Hunter",
    "Butler", "Composer", "Crocodile", "Husband", "Woman", "Man", "Student", "Waitress", "Hunter",
)  # fmt: skip

VERBS = (
    "Battle", "Find", "Sink", "Chase", "Pursue", "Outrace", "Meet", "Defeat", "Discover", "Vanquish",
    "Overcome", "Succumb", "Kill", "Reach", "Confront", "Build", "Face", "Escape", "Fight", "Redeem",
)  # fmt: skip

PLACES = (
    "The Canadian Rockies", "Ancient China", "A Baloon Factory", "A Shark Tank", "The Gulf of Mexico",
    "Ancient India", "A U-Boat", "A Manhattan Penthouse", "The Outback", "Soviet Georgia", "Nigeria",
    "A MySQL Convention", "A Jet Boat", "The First Manned Space Station", "An Abandoned Mine Shaft",
    "A Monastery", "Berlin", "The Sahara Desert", "An Abandoned Fun House", "A Baloon",
)  # fmt: skip

CATEGORIES = (
    "Action", "Animation", "Children", "Classics", "Comedy", "Documentary", "Drama", "Family", "Foreign",
    "Games", "Horror", "Music", "New", "Sci-Fi", "Sports", "Travel",
)  # fmt: skip

LANGUAGES = ("English", "Italian", "Japanese", "Mandarin", "French", "German")

SPECIAL_FEATURES = ("Trailers", "Commentaries", "Deleted Scenes", "Behind the Scenes")

RATINGS = ("G", "PG", "PG-13", "R", "NC-17")

COUNTRIES = (
    "Afghanistan", "Algeria", "Argentina", "Australia", "Austria", "Bangladesh", "Belarus", "Brazil",
    "Bulgaria", "Cambodia", "Cameroon", "Canada", "Chile", "China", "Colombia", "Czech Republic", "Egypt",
    "Estonia", "Ethiopia", "Finland", "France", "Germany", "Greece", "Hungary", "India", "Indonesia", "Iran",
    "Iraq", "Israel", "Italy", "Japan", "Kenya", "Latvia", "Lithuania", "Madagascar", "Malaysia", "Mexico",
    "Morocco", "Mozambique", "Nepal", "Netherlands", "New Zealand", "Nigeria", "Norway", "Pakistan", "Peru",
    "Philippines", "Poland", "Portugal", "Romania", "Russian Federation", "Saudi Arabia", "Senegal",
    "South Africa", "South Korea", "Spain", "Sri Lanka", "Sweden", "Switzerland", "Taiwan", "Tanzania",
    "Thailand", "Turkey", "Ukraine", "United Kingdom", "United States", "Venezuela", "Vietnam", "Yemen",
    "Zambia",
)  # fmt: skip

CITY_PARTS = (
    "San", "Santa", "Port", "New", "North", "South", "East", "West", "Saint", "Fort", "Lake", "Mount",
    "Bay", "Glen", "Spring", "River", "Rock", "Oak", "Pine", "Cedar",
)  # fmt: skip

CITY_ROOTS = (
    "Abha", "Acua", "Adana", "Addis", "Aden", "Akishima", "Alvorada", "Ambattur", "Amroha", "Angra",
    "Anapolis", "Arak", "Arecibo", "Asuncion", "Athenai", "Bahia", "Balaiha", "Bamenda", "Banjul",
    "Barcelona",
    "Batna", "Beira", "Benin", "Bergamo", "Bhilwara", "Bijapur", "Bilbays", "Boksburg", "Bratislava", "Brest",
    "Cabuyao", "Cam Ranh", "Carmen", "Cavite", "Chandrapur", "Clarksville", "Coacalco", "Compton", "Cuautla",
    "Dallas", "Dhule", "Dongying", "Ede", "Emeishan", "Esfahan", "Fengshan", "Firozabad", "Garden Grove",
)  # fmt: skip

DISTRICTS = (
    "Alberta", "QLD", "Nagasaki", "California", "Attika", "Mandalay", "Texas", "Buenos Aires", "Gujarat",
    "Ontario", "Bavaria", "Hiroshima", "Punjab", "Sao Paulo", "Shandong", "England", "Kerala", "Hubei",
)  # fmt: skip

STREETS = (
    "Lane", "Drive", "Avenue", "Street", "Boulevard", "Way", "Parkway", "Loop", "Place", "Manor",
)  # fmt: skip

STREET_NAMES = (
    "Workhaven", "Lillydale", "Hanoi", "Loja", "Oak", "Joliet", "Stara Zagora", "Tiefa", "Baku", "Mosul",
    "Dhaka", "Tokat", "Zanzibar", "Bucuresti", "Pangkalpinang", "Pontianak", "Santiago", "Noyabrsk",
)  # fmt: skip
