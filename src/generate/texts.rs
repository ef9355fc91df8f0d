//! The texts of generated consultations: titles, bodies, resolutions and the
//! messages of their timelines, assembled from fragments of real requests to a
//! city's DX office. Search and its benchmarks only behave as in production on text
//! with the same vocabulary (two-character terms such as 申請, product names in
//! ASCII and full-width), so the fragments are Japanese as staff write it.

use rand::rngs::StdRng;
use rand::Rng;

use crate::domain::Category;

use super::calendar::skewed;

const SUBJECTS: &[&str] = &[
    "給付金",
    "児童手当",
    "住民票の写し",
    "転入届",
    "保育園入園",
    "介護認定",
    "粗大ごみ収集",
    "道路占用許可",
    "補助金",
    "会議録",
    "議会答弁",
    "職員研修",
    "時間外勤務",
    "契約事務",
    "入札参加資格",
    "公用車",
    "物品購入",
    "選挙事務",
    "防災訓練",
    "避難所運営",
    "市税証明",
    "固定資産税",
    "国民健康保険",
    "生活保護",
    "予防接種",
    "特定健診",
    "図書館",
    "施設予約",
    "イベント参加",
    "市民アンケート",
    "問合せ対応",
    "苦情対応",
    "就学援助",
    "放課後児童クラブ",
    "犬の登録",
    "空き家対策",
    "道路損傷",
    "公園管理",
    "水道使用開始",
    "出張旅費",
    "庁内照会",
    "統計調査",
    "パブリックコメント",
    "広報紙",
    "ふるさと納税",
    "奨学金",
    "保育料",
    "児童扶養手当",
];

const OBJECTS: &[&str] = &[
    "申請書",
    "受付業務",
    "集計",
    "台帳管理",
    "進捗管理",
    "照会対応",
    "予約受付",
    "入力作業",
    "決裁",
    "通知書の発送",
    "名簿管理",
    "日程調整",
    "報告書作成",
    "実績報告",
    "審査",
    "問合せ管理",
    "データ入力",
    "文字起こし",
    "回覧",
    "押印",
];

const GOALS: &[&str] = &[
    "効率化",
    "自動化",
    "デジタル化",
    "ペーパーレス化",
    "見える化",
    "一元管理",
    "省力化",
    "オンライン化",
];

fn tools(category: Category) -> &'static [&'static str] {
    match category {
        Category::LowCodeApp => &["kintone", "ローコードアプリ", "Power Apps", "業務アプリ"],
        Category::EApplication => &[
            "電子申請",
            "オンライン申請",
            "LoGoフォーム",
            "電子申請システム",
        ],
        Category::Rpa => &["RPA", "WinActor", "RPAロボット"],
        Category::AiOcr => &["AI-OCR", "AI-OCRとRPA", "手書き文字認識"],
        Category::DataUse => &["BIツール", "ダッシュボード", "オープンデータ", "GIS"],
        Category::Other => &[
            "チャットボット",
            "生成AI",
            "Teams",
            "タブレット端末",
            "電子決裁",
            "Web会議",
        ],
    }
}

/// `{S}` subject, `{O}` object, `{T}` tool, `{G}` goal, `{N}` a count, `{D}` days.
const TITLES: &[&str] = &[
    "{S}の{O}を{T}で{G}したい",
    "{S}{O}の{G}について相談",
    "{T}による{S}{O}の{G}",
    "{S}の{O}に{T}を使えないか",
    "{S}に関する{O}の{G}（{T}の活用）",
    "【相談】{S}の{O}を{G}したい",
];

const SITUATIONS: &[&str] = &[
    "現在、{S}の{O}は紙の様式で受け付け、職員が Excel に転記しています。",
    "毎月およそ{N}件の{S}について、{O}を手作業で行っています。",
    "FAX で届く{S}の書類を印刷し、係内で回覧しています。",
    "{S}に関する問合せの電話が1日{N}件ほどあり、{O}に時間を取られています。",
    "{O}のために、複数のシステムから同じ情報を何度も入力しています。",
    "{S}の{O}は担当者の手元の Excel で管理しており、最新版がどれか分からなくなります。",
    "{S}の申請書を窓口と郵送で受け付け、{O}は紙の台帳で行っています。",
];

const PROBLEMS: &[&str] = &[
    "転記ミスが年に{N}件ほど発生しています。",
    "繁忙期には残業が月{N}時間を超えます。",
    "担当者が1人しかおらず、休暇中は業務が止まってしまいます。",
    "集計に毎月{D}日かかっています。",
    "市民の方を窓口で長くお待たせしています。",
    "紙の保管場所が足りなくなっています。",
    "在宅勤務の日には対応できません。",
    "受付業務と集計が月末に集中し、他の業務が進みません。",
];

const ASKS: &[&str] = &[
    "{T}で{G}できないか相談したいです。",
    "他課で{T}を導入した事例があれば教えてください。",
    "来年度の予算要求に間に合うよう、{T}の導入を検討したいです。",
    "まずはヒアリングをお願いできますでしょうか。",
    "{T}を使うとどの程度の時間削減になるか知りたいです。",
];

/// Rarer sentences, so search has rare terms to find as well as common ones.
const RARE: &[&str] = &[
    "稟議書の回付も電子化したいと考えています。",
    "個人情報を含むため、取扱いについても確認させてください。",
    "LGWAN 環境で利用できるかも教えてください。",
    "マイナンバーを扱う業務です。",
    "会議録の作成に音声認識が使えないかも知りたいです。",
    "公印の押印が必要な通知書があります。",
];

const RESOLUTIONS: &[&str] = &[
    "{T}でアプリを作成し、課内で試行を開始しました。操作手順書を共有フォルダに置いています。",
    "既存の{T}の機能で対応できることを確認し、設定手順をお伝えしました。",
    "{T}のテンプレートを提供し、担当者向けに操作説明会を実施しました。",
    "業務フローを見直し、{O}の手順を簡素化しました。{T}の導入は次年度に検討します。",
    "他課の{T}の事例を紹介し、同じ仕組みを横展開しました。",
    "{S}の{O}を{T}で{G}し、年間{N}時間の削減を見込んでいます。",
];

pub(super) const REQUEST_INFO: &[&str] = &[
    "現在お使いの様式と、月ごとの件数を教えてください。",
    "業務の流れが分かる資料があれば共有してください。",
    "対象となるデータの項目一覧をお送りください。",
    "個人情報の有無と保存期間を確認させてください。",
    "利用する職員の人数と、市民の利用見込みを教えてください。",
];

pub(super) const PROVIDE_INFO: &[&str] = &[
    "様式と昨年度の件数をお送りします。",
    "業務フロー図を共有フォルダに置きました。",
    "項目一覧を添付しました。ご確認ください。",
    "個人情報を含みます。保存期間は5年です。",
    "利用者は課内の職員約20名です。",
];

pub(super) const REOPEN: &[&str] = &[
    "本番運用で不具合が見つかりました。",
    "年度切替の処理が想定どおり動きません。",
    "入力項目の追加が必要になりました。",
    "操作手順書どおりに進めるとエラーになります。",
];

pub(super) const WITHDRAW_BY_REQUESTER: &[&str] = &[
    "課内で解決したため取り下げます。",
    "予算化が見送られたため取り下げます。",
    "制度改正により業務自体がなくなりました。",
    "全庁システムの更新で対応されることになりました。",
];

pub(super) const SKIP_HEARING: &[&str] = &[
    "内容が明確なためヒアリングを省略します。",
    "電話で内容を確認済みです。",
    "既存テンプレートで対応できるため、直接担当を決めます。",
];

pub(super) const HANDOVER: &[&str] = &[
    "担当者の異動に伴い引き継ぎます。",
    "負荷分散のため担当を変更します。",
];

pub(super) const PLACES: &[&str] = &[
    "本庁舎5階 会議室A",
    "本庁舎8階 DX推進課 打合せスペース",
    "オンライン (Teams)",
    "オンライン (Zoom)",
    "区役所 2階 相談室",
    "依頼課の執務室",
];

/// The fragments one consultation's texts are built from.
pub(super) struct Words {
    pub(super) category: Category,
    subject: &'static str,
    object: &'static str,
    tool: &'static str,
    goal: &'static str,
}

impl Words {
    pub(super) fn draw(rng: &mut StdRng, category: Category) -> Words {
        Words {
            category,
            subject: pick(rng, SUBJECTS),
            object: pick(rng, OBJECTS),
            tool: pick(rng, tools(category)),
            goal: pick(rng, GOALS),
        }
    }

    /// A consultation's title.
    pub(super) fn title(&self, rng: &mut StdRng) -> String {
        let mut title = String::with_capacity(96);
        fill(&mut title, pick(rng, TITLES), self, rng);
        title
    }

    /// A consultation's body: the situation, one or two problems, the ask, and now
    /// and then a rare term for search to find.
    pub(super) fn body(&self, rng: &mut StdRng) -> String {
        let mut body = String::with_capacity(512);
        fill(&mut body, pick(rng, SITUATIONS), self, rng);
        fill(&mut body, pick(rng, PROBLEMS), self, rng);
        if rng.gen_bool(0.4) {
            fill(&mut body, pick(rng, PROBLEMS), self, rng);
        }
        fill(&mut body, pick(rng, ASKS), self, rng);
        if rng.gen_ratio(1, 40) {
            body.push_str(pick(rng, RARE));
        }
        body
    }

    /// A resolution note.
    pub(super) fn resolution(&self, rng: &mut StdRng) -> String {
        let mut resolution = String::with_capacity(200);
        fill(&mut resolution, pick(rng, RESOLUTIONS), self, rng);
        resolution
    }
}

pub(super) fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// Appends `template` with its placeholders filled.
fn fill(out: &mut String, template: &str, w: &Words, rng: &mut StdRng) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let key = rest.as_bytes().get(open + 1).copied().unwrap_or(b'?');
        match key {
            b'S' => out.push_str(w.subject),
            b'O' => out.push_str(w.object),
            b'T' => out.push_str(w.tool),
            b'G' => out.push_str(w.goal),
            b'N' => push_int(out, i64::from(skewed(rng, 10, 600))),
            b'D' => push_int(out, rng.gen_range(2..=10)),
            _ => {}
        }
        rest = rest.get(open + 3..).unwrap_or("");
    }
    out.push_str(rest);
}

fn push_int(out: &mut String, n: i64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}
