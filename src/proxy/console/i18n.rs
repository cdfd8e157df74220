//! The console's words in English, Spanish and Simplified Chinese, and which of them a
//! browser asks for.
//!
//! Every message is one entry with its three texts, so a message cannot exist in one
//! language and be missing in another; `{name}` marks a value filled in at display time
//! and every text of a message has the same ones (tested). The language is the browser's
//! first match in `Accept-Language` (its q-values honoured), English when none matches,
//! unless the person chose one on the page (`?lang=`, kept in a cookie).

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Zh];

    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Zh => "zh-Hans",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
            Lang::Zh => "中文",
        }
    }

    /// `en`, `es`, `zh` (as `?lang=` and the cookie carry it).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The browser's preferred language among ours.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let mut best: Option<(f32, usize, Lang)> = None;
        for (order, item) in header.split(',').enumerate() {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::from_code(primary) else {
                continue;
            };
            let better = match best {
                None => q > 0.0,
                Some((bq, border, _)) => q > bq || (q == bq && order < border),
            };
            if better {
                best = Some((q, order, lang));
            }
        }
        best.map_or(Lang::En, |(_, _, lang)| lang)
    }
}

/// One message in the three languages.
pub struct Msg {
    pub key: &'static str,
    pub en: &'static str,
    pub es: &'static str,
    pub zh: &'static str,
}

impl Msg {
    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Es => self.es,
            Lang::Zh => self.zh,
        }
    }
}

macro_rules! messages {
    ($($key:ident: $en:literal, $es:literal, $zh:literal;)*) => {
        $(pub const $key: Msg = Msg { key: stringify!($key), en: $en, es: $es, zh: $zh };)*
        /// Every message, for the tests and the language switcher.
        pub const ALL: &[Msg] = &[$($key),*];
    };
}

messages! {
    TITLE: "garita review console", "Consola de revisión de garita", "garita 审核控制台";
    SIGN_IN: "Sign in", "Iniciar sesión", "登录";
    SIGN_OUT: "Sign out", "Cerrar sesión", "退出登录";
    TOKEN: "Your access token", "Su token de acceso", "您的访问令牌";
    WRONG_TOKEN: "That token is not valid.", "Ese token no es válido.", "该令牌无效。";
    TOO_MANY_TRIES: "Too many failed sign-ins from this address; try again in {minutes} minutes.", "Demasiados intentos fallidos desde esta dirección; vuelva a intentarlo en {minutes} minutos.", "该地址登录失败次数过多，请在 {minutes} 分钟后重试。";
    SESSION_ENDED: "Your session has ended; sign in again.", "Su sesión terminó; inicie sesión de nuevo.", "您的会话已结束，请重新登录。";
    SIGNED_IN_AS: "Signed in as {name} ({role})", "Sesión de {name} ({role})", "当前用户：{name}（{role}）";
    QUEUE: "Review queue", "Cola de revisión", "审核队列";
    WAITING: "Waiting", "En espera", "等待中";
    CLAIMED: "Claimed", "Tomada", "已认领";
    ESCALATED: "Escalated", "Escalada", "已升级";
    RESOLVED: "Resolved", "Resuelta", "已处理";
    NONE_WAITING: "No reviews waiting.", "No hay revisiones en espera.", "没有等待中的审核。";
    RECEIVED: "Received", "Recibido", "接收时间";
    ROUTE: "Route", "Ruta", "路由";
    AMOUNT: "Amount", "Monto", "金额";
    SCORE: "Score", "Puntaje", "分数";
    REASONS: "Reasons", "Motivos", "原因";
    STATUS: "Status", "Estado", "状态";
    NEXT_PAGE: "Next page", "Página siguiente", "下一页";
    FORBIDDEN: "Your role may not do that.", "Su rol no puede hacer eso.", "您的角色无权执行此操作。";
    BAD_FORM: "The form expired; reload the page and try again.", "El formulario caducó; recargue la página e inténtelo de nuevo.", "表单已过期，请刷新页面后重试。";
    LANGUAGE: "Language", "Idioma", "语言";
    REVIEW: "Review {id}", "Revisión {id}", "审核 {id}";
    BACK: "Back to the queue", "Volver a la cola", "返回队列";
    POLICY: "Policy", "Política", "策略";
    ORDER: "Order", "Pedido", "订单";
    NOTES: "Notes", "Notas", "备注";
    ADD_NOTE: "Add a note", "Agregar una nota", "添加备注";
    NOTE_HINT: "Write no document number, email or phone here.", "No escriba aquí números de documento, correos ni teléfonos.", "请勿在此填写证件号码、邮箱或电话。";
    YOU_HOLD: "You hold this review until {time}.", "Usted tiene esta revisión hasta las {time}.", "您认领了此审核，有效期至 {time}。";
    HELD_BY: "{name} holds this review until {time}.", "{name} tiene esta revisión hasta las {time}.", "{name} 已认领此审核，有效期至 {time}。";
    DECIDED: "Decided by {name}: {outcome}.", "Decidida por {name}: {outcome}.", "由 {name} 决定：{outcome}。";
    APPROVE: "Approve", "Aprobar", "批准";
    FRAUD: "Fraud", "Fraude", "欺诈";
    ESCALATE: "Escalate", "Escalar", "升级";
    BLOCK_THESE: "Fraud blocks these facts:", "El fraude bloquea estos datos:", "标记欺诈将封禁以下信息：";
    ESCALATED_BY: "Escalated by {name}.", "Escalada por {name}.", "已由 {name} 升级。";
    UNKNOWN_REVIEW: "No such review.", "No existe esa revisión.", "没有这条审核。";
    SORT: "Order", "Orden", "排序";
    OLDEST_FIRST: "Oldest first", "Más antiguas primero", "最早的在前";
    NEWEST_FIRST: "Newest first", "Más recientes primero", "最新的在前";
    FILTER: "Filter", "Filtrar", "筛选";
    KEYS: "Keyboard", "Teclado", "键盘快捷键";
    KEYS_QUEUE: "n next page, / filter, o open the first review", "n página siguiente, / filtrar, o abrir la primera revisión", "n 下一页，/ 筛选，o 打开第一条审核";
    KEYS_REVIEW: "a approve, f fraud, e escalate, t note, q back to the queue", "a aprobar, f fraude, e escalar, t nota, q volver a la cola", "a 批准，f 欺诈，e 升级，t 备注，q 返回队列";
    CONFIRM_FRAUD: "Mark this review as fraud and block the ticked facts?", "¿Marcar esta revisión como fraude y bloquear los datos marcados?", "确定将此审核标记为欺诈并封禁所勾选的信息吗？";
}

/// The text of `msg` in `lang` with each `{name}` replaced by its value (escaped by the
/// page that shows it, like every other text).
pub fn fill(msg: &Msg, lang: Lang, values: &[(&str, &str)]) -> String {
    let mut text = msg.get(lang).to_string();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        let mut out: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn every_message_is_there_in_all_three_languages_with_the_same_placeholders() {
        assert!(ALL.len() >= 20);
        let mut keys: Vec<&str> = ALL.iter().map(|m| m.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), ALL.len(), "keys are unique");
        for msg in ALL {
            for lang in Lang::ALL {
                assert!(!msg.get(lang).trim().is_empty(), "{} in {lang:?}", msg.key);
            }
            assert_eq!(placeholders(msg.en), placeholders(msg.es), "{}", msg.key);
            assert_eq!(placeholders(msg.en), placeholders(msg.zh), "{}", msg.key);
            assert_ne!(msg.en, msg.es, "{} is translated to Spanish", msg.key);
            assert_ne!(msg.en, msg.zh, "{} is translated to Chinese", msg.key);
        }
        assert_eq!(
            fill(&TOO_MANY_TRIES, Lang::Es, &[("minutes", "15")]),
            "Demasiados intentos fallidos desde esta dirección; vuelva a intentarlo en 15 minutos."
        );
    }

    #[test]
    fn the_browsers_first_language_among_ours_wins() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("es-PE,es;q=0.9,en;q=0.8")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("zh-CN,zh;q=0.9")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("fr-FR, en;q=0.5, es;q=0.7")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("de, fr")), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("es;q=0, zh")),
            Lang::Zh,
            "q=0 means not this one"
        );
        assert_eq!(Lang::from_code("zh"), Some(Lang::Zh));
        assert_eq!(Lang::Zh.tag(), "zh-Hans");
    }
}
