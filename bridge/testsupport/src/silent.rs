//! A TCP server that accepts connections and never says a word: the "hung
//! backend" every timeout test needs.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct SilentServer {
    pub port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        // The thread ends with the test process; connections are held open, unanswered.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        SilentServer { port, held }
    }

    /// How many connections were made to it.
    pub fn connections(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}
