//! The chat vocabulary the normaliser knows: Indonesian WhatsApp slang and abbreviations, a
//! little English and Javanese, two-word phrases, the words that carry no meaning for matching
//! and the words that only tell a question's circumstances.
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// A chat spelling, abbreviation or English word → the canonical word(s) an FAQ would use.
pub fn expansion(word: &str) -> Option<&'static str> {
    EXPANSIONS.get(word).copied()
}

/// Two words that mean one thing ("share loc" → "alamat"), matched before single words.
pub fn phrase(first: &str, second: &str) -> Option<&'static str> {
    PHRASES.get(&(first, second)).copied()
}

/// A word that carries no meaning for matching a question to an FAQ entry.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(word)
}

/// An everyday word that tells the circumstances around a question, not its topic: when the
/// customer comes, who with, for what occasion.
pub fn is_circumstance(word: &str) -> bool {
    CONTEXT.contains(word)
}

pub fn is_greeting_word(word: &str) -> bool {
    GREETINGS.split_whitespace().any(|g| g == word)
}

pub fn is_thanks_word(word: &str) -> bool {
    THANKS.split_whitespace().any(|t| t == word)
}

fn pairs(text: &'static str) -> HashMap<&'static str, &'static str> {
    text.lines().filter_map(|l| l.trim().split_once('=')).map(|(from, to)| (from.trim(), to.trim())).collect()
}

static EXPANSIONS: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| pairs(EXPANSION_TEXT));
static PHRASES: LazyLock<HashMap<(&'static str, &'static str), &'static str>> = LazyLock::new(|| {
    pairs(PHRASE_TEXT).into_iter().filter_map(|(from, to)| from.split_once(' ').map(|pair| (pair, to))).collect()
});
static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOPWORD_TEXT.split_whitespace().collect());
static CONTEXT: LazyLock<HashSet<&'static str>> = LazyLock::new(|| CONTEXT_TEXT.split_whitespace().collect());

/// `from = to`, one per line.
const EXPANSION_TEXT: &str = "
dpt = dapat
krm = kirim
bnyk = banyak
bbrp = beberapa
msh = masih
jd = jadi
klu = kalau
gimn = gimana
gmana = gimana
knp = kenapa
kyk = kayak
dlm = dalam
sblm = sebelum
stlh = setelah
smp = sampai
bln = bulan
thn = tahun
mgg = minggu
mggu = minggu
org = orang
brg = barang
bhn = bahan
wrn = warna
uk = ukuran
ukrn = ukuran
tlg = tolong
mhn = mohon
ak = aku
aq = aku
bukak = buka
weekend = sabtu minggu
available = stok
pickup = ambil
parking = parkir
card = kartu
pricelist = harga
ojol = kirim
brp = berapa
brpa = berapa
brapa = berapa
brpan = berapa
berapaan = berapa
kpn = kapan
dmn = mana
dimana = mana
gmn = gimana
gmna = gimana
gimana = gimana
bgmn = gimana
gk = tidak
ga = tidak
gak = tidak
g = tidak
nggak = tidak
ngga = tidak
enggak = tidak
engga = tidak
tdk = tidak
udh = sudah
udah = sudah
sdh = sudah
dah = sudah
blm = belum
blum = belum
lg = lagi
bs = bisa
bsa = bisa
jg = juga
aja = saja
ajah = saja
skrg = sekarang
skg = sekarang
bsk = besok
besuk = besok
tgl = tanggal
hr = hari
mlm = malam
malem = malam
sy = saya
gue = saya
gw = saya
tp = tapi
sm = sama
dr = dari
krn = karena
sampe = sampai
smpe = sampai
pake = pakai
abis = habis
dateng = datang
pesen = pesan
mesen = pesan
order = pesan
tuker = tukar
nuker = tukar
anter = antar
nganter = antar
kirimin = kirim
dikirimin = kirim
ngirim = kirim
mengirim = kirim
pengiriman = kirim
nerima = terima
nyampe = sampai
nyampai = sampai
shareloc = alamat
sharelok = alamat
ngopi = kopi
ngudud = rokok
udud = rokok
vape = rokok
suami = pria
bapak2 = pria
men = pria
male = pria
cc = kartu kredit
janji = reservasi
janjian = reservasi
appointment = reservasi
kotak = box
nyanyi = musik
music = musik
band = musik
baterai = colokan
batre = colokan
batere = colokan
hrs = harus
trs = terus
gt = gitu
cm = cuma
cuman = cuma
ato = atau
ora = tidak
mboten = tidak
nek = kalau
telp = telpon
dalem = dalam
deket = dekat
naro = taruh
naruh = taruh
nyari = cari
ngambil = ambil
nunggu = tunggu
nulis = tulis
nyuci = cuci
nyetrika = setrika
ngantri = antri
antre = antri
grosir = reseller
grosiran = reseller
agen = reseller
lowbat = colokan
ngecas = colokan
cas = colokan
charger = colokan
ultah = ulang tahun
sekilo = kilo
kg = kilo
kilogram = kilo
ongkir = ongkos kirim
cod = bayar tempat
tf = transfer
trf = transfer
transfer = transfer
rek = rekening
norek = rekening
lokasi = alamat
sharelock = alamat
maps = alamat
gmaps = alamat
awet = tahan
duit = uang
harganya = harga
hrg = harga
hrga = harga
pembayaran = bayar
membayar = bayar
dibayar = bayar
bayarnya = bayar
byr = bayar
ready = stok
stock = stok
ukuran = ukur
size = ukur
diskon = diskon
disc = diskon
discount = diskon
cewek = wanita
cewe = wanita
perempuan = wanita
cowok = pria
cowo = pria
laki = pria
rokok = rokok
merokok = rokok
smoking = rokok
hour = jam
hours = jam
use = pakai
open = buka
opening = buka
close = tutup
closing = tutup
price = harga
prices = harga
cost = harga
delivery = kirim
deliver = kirim
shipping = kirim
address = alamat
location = alamat
payment = bayar
pay = bayar
booking = reservasi
book = reservasi
reserve = reservasi
reservation = reservasi
";

/// `first second = to`, one per line.
const PHRASE_TEXT: &str = "
tanggal merah = libur
how much = harga
how long = lama
price list = harga
daftar harga = harga
kena berapa = harga
take away = ambil
dine in = makan tempat
share loc = alamat
share lok = alamat
share location = alamat
pick up = ambil
ulang tahun = ultah
ongkos kirim = ongkir
bayar tempat = cod
free ongkir = gratis ongkir
smoking area = rokok
tidak jadi = batal
sebelah mana = alamat
daerah mana = alamat
kapan jadi = selesai
kapan jadinya = selesai
kapan selesai = selesai
sehari jadi = selesai
bulu mata = eyelash
kartu kredit = kartu kredit
walk in = langsung datang
jam berapa = jam
berapa jam = lama jam
berapa lama = lama
berapa hari = lama hari
";

/// Function words, pronouns, vocatives ("kak", "min", "gan"), greetings and openers, fillers.
const STOPWORD_TEXT: &str = "
nggih lho loh ber monggo
yang dan di ke dari ini itu apa apakah ada untuk buat utk dengan dgn atau juga lagi saja sudah akan bisa tidak
belum kalau kalo klo kl misal misalnya yg sama gitu begitu kan kok nya si tuh nih pun jadi tapi karena soalnya
terus trus masih harus perlu boleh biasanya kira kira2 sekarang hari berapa kapan mana gimana bagaimana mengapa
kenapa gini emang emg memang dong deh sih kah ya yah yaa iya oh ok oke okay hehe hehehe wkwk wkwkwk haha hihi
plis pliss please pls tolong mohon mau ingin pengen pingin tanya nanya bertanya info tau tahu aman beneran
bener benar agak banget bgt sekali saya aku kami kita anda kamu gue ku mu kak kakak ka kk min mimin admin gan
agan sis sist bu ibu pak bapak mas mbak mba bang om tante teh aa bro dear halo hallo helo hai hi hello hey
selamat assalamualaikum assalamu alaikum salam permisi misi punten p pagi siang sore the a an is are do does
you your i we my can what how to of for in on at there any it be have has and or with me
";

/// Words of time, people, places and doing that no FAQ topic is about.
const CONTEXT_TEXT: &str = "
besok lusa kemarin kemar tadi nanti ntar minggu bulan tahun depan pagi siang sore malam senin selasa rabu kamis
jumat sabtu dulu mulai pas waktu sebentar bentar anak adik adek kakak temen teman ayah bapak ibu mama papa
suami istri keluarga pacar kantor kampus sekolah kolah kos kost rumah kota sini situ sana jalan jl bawa jemput
pergi datang mampir pindah baru rencana acara keburu sempat mpet bingung ragu suka butuh kayak kayaknya pengen
coba lihat liat cari nyari beli dapat dapet kasih pakai buat bikin nambah tambah lewat semua sekalian kali
banyak dikit sedikit gede besar kecil penuh luas bareng sendiri langsung kejut terima nerima gimana mulu terus
";

/// A message of only these is a greeting.
const GREETINGS: &str = "halo hallo helo hai hi hello hey pagi siang sore malam selamat assalamualaikum assalamu alaikum salam permisi misi p punten good morning evening afternoon";

/// A message of only these is thanks.
const THANKS: &str = "terima kasih makasih makasi thanks thank thx tq trims suwun nuhun";
