//! The dashboard's words in Bahasa Indonesia (first) and English.

/// The reader's language: from `?lang=`, then the `balas_lang` cookie, then the tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "id" => Some(Self::Id),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// `lang=en|id` in a query string.
    pub fn from_query(query: &str) -> Option<Self> {
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "lang").and_then(|(_, v)| Self::parse(&v))
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::En => "en",
        }
    }

    /// The text for `key`; an unknown key shows itself, so a gap is visible, never a panic.
    pub fn t(self, key: &'static str) -> &'static str {
        TEXTS.iter().find(|(k, ..)| *k == key).map_or(key, |(_, id, en)| if self == Self::En { en } else { id })
    }
}

/// (key, Bahasa Indonesia, English).
const TEXTS: &[(&str, &str, &str)] = &[
    ("login.title", "Masuk ke dasbor", "Sign in to the dashboard"),
    ("login.tenant", "Kode toko (slug)", "Shop code (slug)"),
    ("login.email", "E-mail", "E-mail"),
    ("login.password", "Kata sandi", "Password"),
    ("login.submit", "Masuk", "Sign in"),
    ("login.wrong", "Kode toko, e-mail, atau kata sandi salah.", "The shop code, e-mail or password is wrong."),
    ("login.throttled", "Terlalu banyak percobaan; tunggu beberapa menit.", "Too many attempts; wait a few minutes."),
    ("nav.inbox", "Eskalasi", "Escalations"),
    ("nav.faq", "FAQ", "FAQ"),
    ("nav.settings", "Pengaturan", "Settings"),
    ("nav.analytics", "Analitik", "Analytics"),
    ("nav.pin", "PIN", "PIN"),
    ("nav.lock", "Kunci layar", "Lock"),
    ("nav.logout", "Keluar", "Log out"),
    ("inbox.title", "Tiket terbuka", "Open tickets"),
    ("inbox.empty", "Tidak ada tiket terbuka. 🎉", "No open tickets. 🎉"),
    (
        "inbox.templates",
        "⚠ Pemberitahuan ke pemilik yang belum menulis dalam 24 jam tidak bisa dikirim lewat WhatsApp (template belum disetujui). Minta operator menjalankan balas doctor:",
        "⚠ Notices to an owner who has not written in 24 hours cannot go by WhatsApp (template not approved). Ask the operator to run balas doctor:",
    ),
    (
        "inbox.template_cap",
        "⚠ Batas pesan template WhatsApp bulan ini sudah tercapai: pemberitahuan ke pemilik di luar jendela 24 jam dikirim lewat e-mail saja. Operator bisa menaikkannya dengan balas tenant set --template-cap",
        "⚠ This month's WhatsApp template cap is reached: notices to an owner outside the 24-hour window go by e-mail only. The operator can raise it with balas tenant set --template-cap",
    ),
    ("inbox.number", "No.", "No."),
    ("inbox.customer", "Pelanggan", "Customer"),
    ("inbox.reason", "Alasan", "Reason"),
    ("inbox.age", "Umur", "Age"),
    ("inbox.status", "Status", "Status"),
    (
        "ticket.in_group",
        "di grup WhatsApp: semua anggota grup membaca balasan",
        "in a WhatsApp group: every member reads the replies",
    ),
    ("ticket.title", "Tiket", "Ticket"),
    ("ticket.messages", "Percakapan", "Conversation"),
    ("ticket.reply", "Balas pelanggan", "Reply to the customer"),
    ("ticket.attach", "Kirim foto atau dokumen", "Send a photo or document"),
    ("ticket.caption", "Keterangan (boleh kosong)", "Caption (optional)"),
    ("ticket.send_file", "Kirim berkas", "Send the file"),
    ("ticket.send", "Kirim balasan", "Send reply"),
    ("ticket.suggested", "Saran balasan (sudah lolos pemeriksaan)", "Suggested reply (passed the checks)"),
    ("ticket.send_suggested", "Kirim saran balasan", "Send the suggested reply"),
    ("ticket.takeover", "Ambil alih", "Take over"),
    ("ticket.handback", "Kembalikan ke bot", "Hand back to the bot"),
    ("ticket.resolve", "Selesaikan", "Resolve"),
    ("ticket.closed", "Tiket ini sudah ditutup.", "This ticket is closed."),
    ("ticket.no_text", "(tanpa teks)", "(no text)"),
    ("ticket.photo", "Foto dari pelanggan", "Photo from the customer"),
    ("ticket.document", "Unduh dokumen", "Download the document"),
    ("status.open", "menunggu", "waiting"),
    ("status.human", "ditangani orang", "with a person"),
    ("status.handed_back", "kembali ke bot", "back with the bot"),
    ("status.resolved", "selesai", "resolved"),
    ("status.unanswered", "tak terjawab (bot melanjutkan)", "unanswered (the bot carried on)"),
    ("status.other", "lainnya", "other"),
    ("author.customer", "Pelanggan", "Customer"),
    ("author.bot", "Bot", "Bot"),
    ("author.owner", "Pemilik", "Owner"),
    ("author.system", "Sistem", "System"),
    ("ok.reply", "Balasan dikirim ke antrean.", "The reply is queued for sending."),
    ("ok.takeover", "Percakapan diambil alih.", "You have taken over the conversation."),
    ("ok.handback", "Percakapan dikembalikan ke bot.", "The conversation is back with the bot."),
    ("ok.resolve", "Tiket diselesaikan.", "The ticket is resolved."),
    ("ok.saved", "Tersimpan.", "Saved."),
    ("ok.deleted", "Dihapus.", "Deleted."),
    ("ok.pin", "PIN tersimpan.", "The PIN is saved."),
    ("err.ticket_closed", "Tiket ini sudah ditutup.", "This ticket is already closed."),
    ("err.invalid_transition", "Langkah itu tidak bisa dilakukan sekarang.", "That move is not possible now."),
    ("err.empty_text", "Balasan kosong.", "The reply is empty."),
    (
        "err.caption_not_shown",
        "Pesan suara dan stiker tidak bisa diberi keterangan; kirim teksnya sebagai balasan biasa.",
        "Audio and stickers take no caption; send the text as a reply.",
    ),
    ("err.caption_too_long", "Keterangan paling banyak 1024 karakter.", "A caption is at most 1024 characters."),
    (
        "err.file_too_large",
        "Berkasnya terlalu besar untuk WhatsApp atau kuota hari ini.",
        "The file is too large for WhatsApp or today's quota.",
    ),
    (
        "err.file_type_refused",
        "Jenis berkas ini tidak bisa dikirim lewat WhatsApp.",
        "This type of file cannot be sent on WhatsApp.",
    ),
    ("err.file_empty", "Berkasnya kosong atau tidak terkirim utuh.", "The file is empty or did not arrive whole."),
    ("err.no_draft", "Tidak ada saran balasan.", "There is no suggested reply."),
    ("err.conflict", "Percakapan berubah bersamaan; coba lagi.", "The conversation changed meanwhile; try again."),
    ("err.generic", "Tidak bisa dilakukan.", "That could not be done."),
    ("faq.title", "FAQ / basis pengetahuan", "FAQ / knowledge base"),
    ("faq.question", "Pertanyaan", "Question"),
    ("faq.answer", "Jawaban", "Answer"),
    ("faq.keywords", "Kata kunci (pisahkan dengan koma)", "Keywords (comma-separated)"),
    ("faq.add", "Tambah entri", "Add entry"),
    ("faq.save", "Simpan", "Save"),
    ("faq.delete", "Hapus", "Delete"),
    ("faq.empty", "Belum ada entri.", "No entries yet."),
    ("faq.owner_only", "Hanya pemilik yang dapat mengubah FAQ.", "Only owners can change the FAQ."),
    ("settings.media", "Foto dan pesan suara dari pelanggan", "Customers' photos and voice notes"),
    ("settings.media.reply", "Minta pelanggan menuliskannya", "Ask the customer to type it"),
    ("settings.media.escalate", "Teruskan ke pemilik", "Hand over to the owner"),
    (
        "settings.media.understand_reply",
        "Pahami dengan AI (kalau gagal, minta menuliskannya)",
        "Understand with AI (if that fails, ask to type it)",
    ),
    (
        "settings.media.understand_escalate",
        "Pahami dengan AI (kalau gagal, teruskan ke pemilik)",
        "Understand with AI (if that fails, hand over)",
    ),
    ("settings.title", "Pengaturan toko", "Shop settings"),
    ("settings.name", "Nama usaha", "Business name"),
    ("settings.language", "Bahasa pelanggan", "Customer language"),
    ("settings.description", "Deskripsi usaha", "Business description"),
    ("settings.address", "Alamat", "Address"),
    ("settings.opening_hours", "Jam buka (teks untuk pelanggan)", "Opening hours (text for customers)"),
    ("settings.business_hours", "Jam kerja HH:MM-HH:MM (kosong: selalu)", "Business hours HH:MM-HH:MM (empty: always)"),
    ("settings.timezone", "Zona waktu", "Time zone"),
    ("settings.tone", "Gaya bahasa", "Tone"),
    ("settings.escalation_keywords", "Kata kunci eskalasi", "Escalation keywords"),
    (
        "settings.link_hosts",
        "Situs yang boleh ditautkan bot, pisahkan dengan koma (mis. tokobusri.com)",
        "Sites the bot may link to, comma-separated (e.g. tokobusri.com)",
    ),
    ("settings.digest_time", "Jam ringkasan harian HH:MM (kosong: tidak ada)", "Daily digest time HH:MM (empty: none)"),
    ("settings.max_bot_turns", "Maks. balasan bot berturut-turut (0: mati)", "Max bot answers in a row (0: off)"),
    ("settings.renotify_minutes", "Ingatkan pemilik setelah (menit)", "Remind the owner after (minutes)"),
    (
        "settings.response_target_minutes",
        "Target balasan pemilik (menit jam buka); lalu pelanggan diberi tahu kapan dijawab",
        "Owner-response target (business minutes); then the customer is told when to expect an answer",
    ),
    (
        "settings.resume_after_hours",
        "Bot melanjutkan tiket tak terjawab setelah (jam; 0 = tidak pernah)",
        "The bot resumes an unanswered ticket after (hours; 0 = never)",
    ),
    ("settings.save", "Simpan pengaturan", "Save settings"),
    ("settings.monthly_token_budget", "Kuota token AI per bulan", "AI tokens per month"),
    (
        "settings.daily_media_bytes_cap",
        "Batas berkas pelanggan per hari, dalam byte (0: tanpa batas)",
        "Customers' files per day, in bytes (0: no cap)",
    ),
    (
        "settings.monthly_template_cap",
        "Batas pesan template per bulan (0: tanpa batas)",
        "Template messages per month (0: no cap)",
    ),
    (
        "settings.operator_only",
        "Batas ini diatur oleh pengelola layanan; hubungi mereka untuk mengubahnya.",
        "This limit is set by the service operator; contact them to change it.",
    ),
    ("settings.number", "Harus bilangan bulat.", "Must be a whole number."),
    ("lock.title", "Layar terkunci", "Screen locked"),
    ("lock.pin", "PIN", "PIN"),
    ("lock.unlock", "Buka kunci", "Unlock"),
    ("lock.wrong", "PIN salah.", "Wrong PIN."),
    (
        "lock.locked",
        "Terlalu banyak PIN salah; coba lagi setelah 15 menit.",
        "Too many wrong PINs; try again in 15 minutes.",
    ),
    (
        "lock.not_set",
        "Anda belum punya PIN; keluar lalu masuk lagi dengan kata sandi.",
        "You have no PIN; log out and sign in with your password.",
    ),
    ("pin.title", "PIN buka kunci", "Unlock PIN"),
    ("pin.help", "4 sampai 8 angka, untuk membuka layar yang terkunci.", "4 to 8 digits, to unlock a locked screen."),
    ("pin.save", "Simpan PIN", "Save PIN"),
    ("pin.malformed", "PIN harus 4 sampai 8 angka.", "A PIN is 4 to 8 digits."),
    ("analytics.title", "Analitik", "Analytics"),
    ("analytics.days", "hari", "days"),
    ("analytics.conversations", "Percakapan", "Conversations"),
    ("analytics.customers", "Pelanggan", "Customers"),
    ("analytics.bot_resolved", "Selesai oleh bot", "Resolved by the bot"),
    ("analytics.escalated", "Dieskalasi", "Escalated"),
    ("analytics.other", "Lainnya", "Other"),
    ("analytics.bot_time", "Waktu jawab bot", "Bot response time"),
    ("analytics.owner_time", "Waktu jawab pemilik", "Owner response time"),
    ("analytics.open_tickets", "Tiket terbuka sekarang", "Open tickets now"),
    ("analytics.overdue", "terlambat", "overdue"),
    ("analytics.llm", "Token LLM · biaya", "LLM tokens · cost"),
    ("analytics.templates", "Pesan template WhatsApp (berbayar)", "WhatsApp templates (billed)"),
    ("analytics.dead_letters", "Pesan gagal (dead letter)", "Dead letters"),
    ("analytics.requests", "Permintaan data terbuka", "Open data requests"),
    ("analytics.inbound", "Masuk", "Inbound"),
    ("analytics.bot", "Bot", "Bot"),
    ("analytics.owner", "Pemilik", "Owner"),
    ("analytics.messages_chart", "Pesan", "Messages"),
    ("analytics.conversations_chart", "Percakapan: bot atau pemilik", "Conversations: bot or owner"),
    ("analytics.reasons", "Alasan eskalasi", "Escalation reasons"),
    ("analytics.as_of", "Data sampai", "Data up to"),
    (
        "analytics.not_yet",
        "Ringkasan belum dihitung; coba lagi beberapa menit lagi.",
        "Not summarised yet; try again in a few minutes.",
    ),
    ("age.minutes", "mnt", "min"),
    ("age.hours", "jam", "h"),
    ("age.days", "hari", "d"),
];
