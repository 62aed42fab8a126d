//! A DNS server on loopback that answers from a table the test controls, so tests can make a
//! name resolve to a private address (or change its answer between two lookups) without
//! touching the machine's resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

/// The running server; names not in the table answer NXDOMAIN.
pub struct FakeDns {
    pub addr: SocketAddr,
    table: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind DNS socket");
        let addr = socket.local_addr().expect("DNS address");
        let table: Arc<Mutex<HashMap<String, Vec<IpAddr>>>> = Arc::default();
        let answers = table.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                if let Some(reply) = answer(&buf[..n], &answers) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        Self { addr, table, task }
    }

    /// Makes `name` resolve to `ips` (A and AAAA records by address family).
    pub fn set(&self, name: &str, ips: &[&str]) {
        let ips = ips
            .iter()
            .map(|s| s.parse().expect("an IP address"))
            .collect();
        self.table
            .lock()
            .expect("DNS table")
            .insert(name.trim_end_matches('.').to_ascii_lowercase(), ips);
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(query: &[u8], table: &Mutex<HashMap<String, Vec<IpAddr>>>) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries().first()?.clone();
    let name = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let ips = table.lock().ok()?.get(&name).cloned();
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true)
        .add_query(question.clone());
    match ips {
        None => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
        Some(ips) => {
            reply.set_response_code(ResponseCode::NoError);
            for ip in ips {
                let rdata = match (ip, question.query_type()) {
                    (IpAddr::V4(v4), RecordType::A) => RData::A(A(v4)),
                    (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(v6)),
                    _ => continue,
                };
                reply.add_answer(Record::from_rdata(question.name().clone(), 1, rdata));
            }
        }
    }
    reply.to_vec().ok()
}
