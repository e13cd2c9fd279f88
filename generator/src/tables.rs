//! Reference tables of the shop's shape (shapes only; names are generic vocabulary).

/// State code, weight, zip prefix range, cities (most populous first).
pub(crate) type StateRow = (&'static str, u32, u32, u32, &'static [&'static str]);

#[rustfmt::skip]
pub(crate) const STATES: &[StateRow] = &[
    ("SP", 420, 1000, 19999, &["sao paulo", "campinas", "guarulhos", "sao bernardo do campo", "santo andre", "osasco", "santos", "sorocaba", "ribeirao preto", "sao jose dos campos", "jundiai", "piracicaba", "bauru", "franca", "limeira"]),
    ("RJ", 130, 20000, 28999, &["rio de janeiro", "niteroi", "sao goncalo", "duque de caxias", "nova iguacu", "petropolis", "campos dos goytacazes", "volta redonda"]),
    ("MG", 117, 30000, 39999, &["belo horizonte", "contagem", "juiz de fora", "uberlandia", "betim", "montes claros", "uberaba", "governador valadares"]),
    ("RS", 55, 90000, 99999, &["porto alegre", "caxias do sul", "canoas", "pelotas", "santa maria", "novo hamburgo"]),
    ("PR", 48, 80000, 87999, &["curitiba", "londrina", "maringa", "ponta grossa", "cascavel", "sao jose dos pinhais"]),
    ("SC", 38, 88000, 89999, &["florianopolis", "joinville", "blumenau", "sao jose", "itajai", "chapeco"]),
    ("BA", 34, 40000, 48999, &["salvador", "feira de santana", "vitoria da conquista", "camacari", "ilheus"]),
    ("DF", 23, 70000, 72799, &["brasilia"]),
    ("GO", 20, 72800, 76799, &["goiania", "aparecida de goiania", "anapolis", "rio verde"]),
    ("ES", 20, 29000, 29999, &["vitoria", "vila velha", "serra", "cariacica", "cachoeiro de itapemirim"]),
    ("PE", 17, 50000, 56999, &["recife", "jaboatao dos guararapes", "olinda", "caruaru", "petrolina"]),
    ("CE", 14, 60000, 63999, &["fortaleza", "caucaia", "juazeiro do norte", "sobral"]),
    ("PA", 11, 66000, 68899, &["belem", "ananindeua", "santarem", "maraba"]),
    ("MT", 9, 78000, 78899, &["cuiaba", "varzea grande", "rondonopolis", "sinop"]),
    ("MA", 7, 65000, 65999, &["sao luis", "imperatriz", "caxias"]),
    ("MS", 7, 79000, 79999, &["campo grande", "dourados", "tres lagoas"]),
    ("PI", 5, 64000, 64999, &["teresina", "parnaiba", "picos"]),
    ("RN", 5, 59000, 59999, &["natal", "mossoro", "parnamirim"]),
    ("PB", 5, 58000, 58999, &["joao pessoa", "campina grande", "patos"]),
    ("SE", 3, 49000, 49999, &["aracaju", "nossa senhora do socorro", "lagarto"]),
    ("AL", 3, 57000, 57999, &["maceio", "arapiraca"]),
    ("RO", 2, 76800, 76999, &["porto velho", "ji-parana"]),
    ("TO", 2, 77000, 77999, &["palmas", "araguaina"]),
    ("AM", 2, 69000, 69299, &["manaus", "parintins"]),
    ("AP", 1, 68900, 68999, &["macapa", "santana"]),
    ("AC", 1, 69900, 69999, &["rio branco", "cruzeiro do sul"]),
    ("RR", 1, 69300, 69389, &["boa vista"]),
];

/// Category name, weight, median price in reais.
pub(crate) const CATEGORIES: &[(&str, u32, f64)] = &[
    ("cama_mesa_banho", 30, 70.0),
    ("esporte_lazer", 29, 80.0),
    ("moveis_decoracao", 27, 75.0),
    ("beleza_saude", 25, 90.0),
    ("utilidades_domesticas", 24, 60.0),
    ("automotivo", 19, 80.0),
    ("informatica_acessorios", 17, 90.0),
    ("brinquedos", 14, 75.0),
    ("relogios_presentes", 13, 150.0),
    ("telefonia", 11, 45.0),
    ("bebes", 9, 100.0),
    ("perfumaria", 9, 75.0),
    ("papelaria", 9, 60.0),
    ("fashion_bolsas_e_acessorios", 9, 50.0),
    ("cool_stuff", 8, 120.0),
    ("ferramentas_jardim", 8, 80.0),
    ("pet_shop", 7, 70.0),
    ("eletronicos", 5, 50.0),
    ("construcao_ferramentas_construcao", 4, 100.0),
    ("eletrodomesticos", 4, 200.0),
    ("malas_acessorios", 4, 130.0),
    ("consoles_games", 3, 90.0),
    ("moveis_escritorio", 3, 150.0),
    ("instrumentos_musicais", 3, 180.0),
    ("eletroportateis", 2, 230.0),
    ("casa_construcao", 2, 110.0),
    ("livros_interesse_geral", 2, 50.0),
    ("fashion_calcados", 2, 90.0),
    ("moveis_sala", 2, 140.0),
    ("climatizacao", 1, 170.0),
    ("livros_tecnicos", 1, 70.0),
    ("telefonia_fixa", 1, 140.0),
    ("casa_conforto", 1, 90.0),
    ("alimentos_bebidas", 1, 50.0),
    ("artigos_de_natal", 1, 60.0),
    ("audio", 1, 120.0),
    ("artes", 1, 90.0),
    ("pcs", 1, 1000.0),
    ("market_place", 1, 70.0),
    ("agro_industria_e_comercio", 1, 200.0),
];

/// Relative purchase volume per hour of day.
pub(crate) const HOUR_WEIGHTS: [u32; 24] = [
    27, 12, 6, 3, 2, 2, 6, 13, 31, 44, 65, 69, 61, 63, 63, 64, 67, 59, 59, 61, 64, 62, 58, 38,
];

/// Relative volume Monday..Sunday.
pub(crate) const WEEKDAY_FACTORS: [f64; 7] = [1.15, 1.12, 1.07, 1.04, 1.0, 0.78, 0.83];

/// Cumulative items-per-order distribution (1..=6 items), per 10 000.
pub(crate) const ITEM_COUNT_CUM: [u32; 6] = [9000, 9760, 9895, 9948, 9972, 10_000];

/// Share of new people that come back (some orders of theirs fall after the window).
pub(crate) const RETURN_SHARE: f64 = 0.034;
