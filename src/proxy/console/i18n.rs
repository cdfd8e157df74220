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
    KEYS_QUEUE: "w take the next waiting review, o open the first row, n next page, / filter", "w tomar la siguiente en espera, o abrir la primera fila, n página siguiente, / filtrar", "w 领取下一条等待中的审核，o 打开第一行，n 下一页，/ 筛选";
    KEYS_REVIEW: "a approve, f fraud, e escalate, t note, n next waiting review, p previous, q back to the queue", "a aprobar, f fraude, e escalar, t nota, n siguiente en espera, p anterior, q volver a la cola", "a 批准，f 欺诈，e 升级，t 备注，n 下一条等待中的审核，p 上一条，q 返回队列";
    THIS_DNI: "this DNI", "este DNI", "该 DNI";
    THIS_EMAIL: "this email", "este correo", "该邮箱";
    THIS_PHONE: "this phone", "este teléfono", "该电话";
    THIS_ACCOUNT: "this account", "esta cuenta", "该账户";
    THIS_DEVICE: "this device", "este dispositivo", "该设备";
    THIS_ADDRESS: "this address", "esta dirección IP", "该 IP 地址";
    THE_SHOP: "the whole shop", "toda la tienda", "整个商店";
    RULE_LARGE_ORDER: "The order is {amount}, at or above {threshold}.", "El pedido es de {amount}, igual o mayor que {threshold}.", "订单金额为 {amount}，达到或超过 {threshold}。";
    RULE_SUM_HOUR: "In this hour {who} ordered {total}, above {threshold}.", "En esta hora {who} pidió {total}, más de {threshold}.", "本小时内{who}下单共 {total}，超过 {threshold}。";
    RULE_SUM_TODAY: "Today {who} ordered {total}, above {threshold}.", "Hoy {who} pidió {total}, más de {threshold}.", "今天{who}下单共 {total}，超过 {threshold}。";
    RULE_SUM_DAYS: "In the last {days} days {who} ordered {total}, above {threshold}.", "En los últimos {days} días {who} pidió {total}, más de {threshold}.", "最近 {days} 天内{who}下单共 {total}，超过 {threshold}。";
    RULE_STRUCTURING: "Within {minutes} minutes {who} placed {count} orders under {below}.", "En {minutes} minutos {who} hizo {count} pedidos de menos de {below}.", "{minutes} 分钟内{who}下了 {count} 笔低于 {below} 的订单。";
    RULE_ANOMALY: "Today's total for {who}, {total}, is above {percent}% of its mean over the {days} days before.", "El total de hoy de {who}, {total}, supera el {percent}% de su promedio de los {days} días anteriores.", "{who}今天的总额 {total} 超过了前 {days} 天平均值的 {percent}%。";
    RULE_FIRST_ORDER: "The first order from {who}.", "El primer pedido de {who}.", "{who}的第一笔订单。";
    RULE_NEW_DEVICE: "A device never seen before with {who}.", "Un dispositivo nunca visto con {who}.", "{who}首次使用的设备。";
    RULE_FIRST_LARGE_ORDER: "The first order of {threshold} or more from {who}.", "El primer pedido de {threshold} o más de {who}.", "{who}首笔达到 {threshold} 的订单。";
    RULE_HOURS: "Placed between {from} and {to}, hours the shop finds odd.", "Hecho entre las {from} y las {to}, horas que la tienda considera inusuales.", "下单时间在 {from} 至 {to} 之间，属于商店认为异常的时段。";
    RULE_COUNTRY: "The client connects from {client} but bills to {billing}.", "El cliente se conecta desde {client} pero factura a {billing}.", "客户从 {client} 连接，但账单国家为 {billing}。";
    RULE_UNPAID_CODES: "In the last {days} days {who} let {count} payment codes expire unpaid.", "En los últimos {days} días {who} dejó vencer sin pagar {count} códigos de pago.", "{who}在最近 {days} 天内有 {count} 个支付码过期未付。";
    RULE_REFUNDS: "In the last {days} days {who} had {count} payments refunded.", "En los últimos {days} días se reembolsaron {count} pagos de {who}.", "{who}在最近 {days} 天内有 {count} 笔付款被退款。";
    RULE_PAID_RATIO: "In the last {days} days {who} paid only {share}% of its settled payment codes (the rule fires below {percent}%).", "En los últimos {days} días {who} pagó solo el {share}% de sus códigos de pago cerrados (la regla salta por debajo del {percent}%).", "{who}在最近 {days} 天内已结算的支付码中只支付了 {share}%（低于 {percent}% 时触发）。";
    RULE_GONE: "Rule {rule} is no longer in the policy.", "La regla {rule} ya no está en la política.", "规则 {rule} 已不在该策略中。";
    WHY: "Why it is here", "Por qué está aquí", "进入审核的原因";
    RULE: "Rule", "Regla", "规则";
    WEIGHT: "Weight", "Peso", "权重";
    WHAT_IT_SAW: "What it saw", "Qué vio", "规则所见";
    CLIENT_COUNTRY: "Client country", "País del cliente", "客户所在国家";
    BILLING_COUNTRY: "Billing country", "País de facturación", "账单国家";
    HINTS: "Who, in part", "Quién, en parte", "身份（部分遮蔽）";
    FACT_DNI: "Identity document (DNI)", "Documento de identidad (DNI)", "身份证件 (DNI)";
    FACT_EMAIL: "Email", "Correo", "邮箱";
    FACT_PHONE: "Phone", "Teléfono", "电话";
    FACT_ACCOUNT: "Account", "Cuenta", "账户";
    FACT_DEVICE: "Device", "Dispositivo", "设备";
    FACT_ADDRESS: "Address", "Dirección IP", "IP 地址";
    PLURAL_DNI: "identity documents", "documentos de identidad", "身份证件";
    PLURAL_EMAIL: "emails", "correos", "邮箱";
    PLURAL_PHONE: "phones", "teléfonos", "电话号码";
    PLURAL_ACCOUNT: "accounts", "cuentas", "账户";
    PLURAL_DEVICE: "devices", "dispositivos", "设备";
    HISTORY: "The same customer's history", "Historial del mismo cliente", "同一客户的历史";
    BLOCKED_SINCE: "Blocked since {time}, by {name}.", "Bloqueado desde {time}, por {name}.", "自 {time} 起被 {name} 封禁。";
    ORDERS_TODAY: "Today: {count} orders, {amounts}.", "Hoy: {count} pedidos, {amounts}.", "今天：{count} 笔订单，{amounts}。";
    ORDERS_IN_DAYS: "Last {days} days: {count} orders, {amounts}.", "Últimos {days} días: {count} pedidos, {amounts}.", "最近 {days} 天：{count} 笔订单，{amounts}。";
    CODES_TODAY: "Payment codes today: {created} created, {paid} paid, {expired} expired, {refunded} refunded.", "Códigos de pago hoy: {created} generados, {paid} pagados, {expired} vencidos, {refunded} reembolsados.", "今天的支付码：生成 {created} 个，已付 {paid} 个，过期 {expired} 个，退款 {refunded} 个。";
    CODES_IN_DAYS: "Payment codes, last {days} days: {created} created, {paid} paid, {expired} expired, {refunded} refunded.", "Códigos de pago, últimos {days} días: {created} generados, {paid} pagados, {expired} vencidos, {refunded} reembolsados.", "最近 {days} 天的支付码：生成 {created} 个，已付 {paid} 个，过期 {expired} 个，退款 {refunded} 个。";
    BOUND_TO: "{count} {fact} bound to it", "{count} {fact} vinculados", "已绑定 {count} 个{fact}";
    NO_OTHER_REVIEWS: "No other review carries it.", "Ninguna otra revisión lo lleva.", "没有其他审核包含此信息。";
    OTHER_REVIEWS: "{count} other reviews carry it:", "Otras {count} revisiones lo llevan:", "另有 {count} 条审核包含此信息：";
    APPROVED: "Approved", "Aprobada", "已批准";
    ESCALATED_TO_ADMINS: "This review was escalated: an admin decides it.", "Esta revisión fue escalada: la decide un administrador.", "此审核已升级，由管理员决定。";
    HELD_BY_SOMEONE: "Someone else holds this review.", "Otra persona tiene esta revisión.", "此审核已被他人认领。";
    STORE_DOWN: "The store did not answer; try again.", "El almacén no respondió; inténtelo de nuevo.", "存储未响应，请重试。";
    BULK_HOW_MANY: "Tick between 1 and {max} reviews.", "Marque entre 1 y {max} revisiones.", "请勾选 1 到 {max} 条审核。";
    BULK_DONE: "decided.", "decidida.", "已决定。";
    BULK_ALREADY: "already decided by {name}.", "ya decidida por {name}.", "已由 {name} 决定。";
    BULK_TITLE: "Decided in bulk: {outcome}", "Decisión en bloque: {outcome}", "批量决定：{outcome}";
    BULK_SELECTED: "Decide the ticked reviews:", "Decidir las revisiones marcadas:", "处理所勾选的审核：";
    CONFIRM_BULK: "Decide every ticked review this way? Fraud blocks every fact each review's policy names.", "¿Decidir así todas las revisiones marcadas? El fraude bloquea todos los datos que indica la política de cada revisión.", "确定以此方式处理所有勾选的审核吗？标记欺诈将封禁每条审核策略所列的全部信息。";
    SELECT: "Select", "Seleccionar", "选择";
    SELECT_REVIEW: "Select the review of {time}", "Seleccionar la revisión de {time}", "选择 {time} 的审核";
    TAKE_NEXT: "Take the next waiting review", "Tomar la siguiente revisión en espera", "领取下一条等待中的审核";
    NEXT_REVIEW: "Next waiting review", "Siguiente revisión en espera", "下一条等待中的审核";
    PREVIOUS_REVIEW: "Previous review", "Revisión anterior", "上一条审核";
    MOVES: "Move through the queue", "Moverse por la cola", "在队列中移动";
    KEY_FILTER: "Reviews carrying the key", "Revisiones con la clave", "包含该标识的审核";
    CLEAR: "clear", "quitar", "清除";
    MORE_FILTERS: "More filters", "Más filtros", "更多筛选";
    MIN_SCORE: "Score from", "Puntaje desde", "分数下限";
    MAX_SCORE: "Score to", "Puntaje hasta", "分数上限";
    CURRENCY: "Currency", "Moneda", "币种";
    MIN_AMOUNT: "Amount from", "Monto desde", "金额下限";
    MAX_AMOUNT: "Amount to", "Monto hasta", "金额上限";
    ASSIGNEE: "Person", "Persona", "处理人";
    WAITING_AT_LEAST: "Waiting at least", "Esperando al menos", "至少等待";
    ANY_AGE: "any time", "cualquier tiempo", "不限";
    ONE_HOUR: "1 hour", "1 hora", "1 小时";
    FOUR_HOURS: "4 hours", "4 horas", "4 小时";
    ONE_DAY: "1 day", "1 día", "1 天";
    OVERVIEW: "Overview", "Resumen", "概览";
    COUNTED_SINCE: "Counted since {time} (the gateway's start, or a day ago).", "Contado desde {time} (el inicio del gateway, o hace un día).", "自 {time} 起统计（网关启动时或一天前）。";
    ALLOWED: "Allowed", "Permitidas", "放行";
    REVIEWED: "To review", "A revisión", "待审核";
    DENIED: "Denied", "Rechazadas", "拒绝";
    PER_HOUR: "Decisions per hour, last day", "Decisiones por hora, último día", "最近一天每小时的决定";
    NO_HOURS_YET: "Nothing counted yet.", "Aún no se contó nada.", "尚无统计。";
    AS_TABLE: "As a table", "Como tabla", "以表格查看";
    HOUR: "Hour", "Hora", "小时";
    TOP_RULES: "Rules that fired most, last day", "Reglas que más se activaron, último día", "最近一天触发最多的规则";
    NO_RULES_FIRED: "No rule fired.", "Ninguna regla se activó.", "没有规则被触发。";
    RESOLVED_TODAY: "Decided today", "Decididas hoy", "今日已处理";
    RESOLVED_TODAY_VALUE: "{count} ({approved} approved, {fraud} fraud: {share}% fraud)", "{count} ({approved} aprobadas, {fraud} fraude: {share}% fraude)", "{count}（批准 {approved}，欺诈 {fraud}：欺诈占 {share}%）";
    AMOUNT_ANOMALY: "Amount anomaly", "Anomalía de montos", "金额异常";
    NO_ANOMALY: "none", "ninguna", "无";
    UPSTREAM: "Upstream", "Servidor de la tienda", "上游服务器";
    STORE: "Store", "Almacén", "存储";
    UP: "answering", "respondiendo", "正常";
    DOWN: "not answering", "sin respuesta", "无响应";
    EVENTS_WAITING: "Review events waiting for the shop", "Eventos de revisión pendientes para la tienda", "待发送给商店的审核事件";
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
